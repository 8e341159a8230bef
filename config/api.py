"""API plumbing shared by every endpoint: pagination and the one error shape.

Every error is {"error": {"code": ..., "message": ..., "fields": {...}}}.
"""
import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

log = logging.getLogger("kassa.api")


class Pagination(PageNumberPagination):
    page_size_query_param = "limit"
    max_page_size = 100


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _flatten(detail) -> dict:
    if isinstance(detail, dict):
        return {key: [str(item) for item in (value if isinstance(value, list) else [value])]
                for key, value in detail.items()}
    return {}


def exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        # Domain errors raised past a view are mapped here rather than becoming 500s.
        from payments.providers.errors import PaymentError

        if isinstance(exc, PaymentError):
            return Response(error_body(getattr(exc, "code", "payment_error"), exc.user_message),
                            status=getattr(exc, "http_status", status.HTTP_409_CONFLICT))
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        non_field = fields.pop("non_field_errors", None)
        message = non_field[0] if non_field else "The request has invalid fields."
        if isinstance(exc.detail, list) and exc.detail:
            message = str(exc.detail[0])
        response.data = error_body("invalid_request", message, fields)
    elif isinstance(exc, exceptions.ParseError):
        response.data = error_body("malformed_json", f"Request body is not valid JSON: {exc.detail}")
    else:
        code = getattr(exc, "default_code", "error")
        detail = exc.detail if hasattr(exc, "detail") else str(exc)
        response.data = error_body(str(code), str(detail))
    return response

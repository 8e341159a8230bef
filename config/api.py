"""API plumbing shared by every endpoint: pagination, the one error shape, and its
OpenAPI description (strict JSON parsing is in config/parsers.py).

Every error is {"error": {"code": ..., "message": ..., "fields": {...}}}.
"""
import logging
import re
import uuid
from datetime import UTC

import django_filters
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import DomainError
from config.outage import is_outage, outage_body, outage_noted
from config.redis import OUTAGE_SECONDS

log = logging.getLogger("kassa.api")


class Pagination(PageNumberPagination):
    page_size_query_param = "limit"
    max_page_size = 100


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _flatten(detail, prefix: str = "") -> dict:
    """DRF's nested error detail → {"items.0.unit_amount": ["…"]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            nested = prefix if key == "non_field_errors" and prefix else (f"{prefix}.{key}" if prefix else str(key))
            out.update(_flatten(value, nested))
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            if detail:
                out[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                out.update(_flatten(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def _validation_response(detail) -> Response:
    fields = _flatten(detail) if isinstance(detail, dict) else {}
    non_field = fields.pop("non_field_errors", None)
    if non_field:
        message = non_field[0]
    elif isinstance(detail, list) and detail:
        message = str(detail[0])
    elif fields:
        name, errors = next(iter(fields.items()))
        message = f"{name}: {errors[0]}"
    else:
        message = "The request has invalid fields."
    return Response(error_body("invalid_request", message, fields), status=status.HTTP_400_BAD_REQUEST)


def _domain_error(exc) -> Response | None:
    """Service errors carry a safe user_message, a code and an HTTP status."""
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.user_message), status=exc.http_status)
    return None


def exception_handler(exc, context):
    if is_outage(exc):  # Redis or the database unreachable: retry soon, not a 500
        outage_noted("api", exc)
        return Response(outage_body(), status=status.HTTP_503_SERVICE_UNAVAILABLE,
                        headers={"Retry-After": str(OUTAGE_SECONDS)})
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        return Response(error_body("payload_too_large", "Request body is too large."),
                        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)

    if (domain := _domain_error(exc)) is not None:
        return domain
    response = drf_exception_handler(exc, context)
    if response is None:
        # Truly unexpected: log with the traceback, answer in the one shape, never leak details.
        log.exception("unhandled API error", extra={"view": context.get("view").__class__.__name__})
        return Response(error_body("internal_error", "Something went wrong on our side. Please retry later."),
                        status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    if isinstance(exc, exceptions.ValidationError):
        replaced = _validation_response(exc.detail)
        replaced.status_code = response.status_code
        response.data = replaced.data
    elif isinstance(exc, exceptions.ParseError):
        response.data = error_body("malformed_json", f"Request body is not valid JSON: {exc.detail}")
    else:
        code = getattr(exc, "default_code", "error")
        detail = exc.detail if hasattr(exc, "detail") else str(exc)
        response.data = error_body(str(code), str(detail))
    return response


# --- OpenAPI: the error envelope, documented once and reused by every endpoint ------

ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "error": inline_serializer(
            name="ErrorDetail",
            fields={
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "fields": serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
            },
        )
    },
)

_ERROR_TEXT = {
    400: "Invalid input: malformed JSON, wrong types, bad values.",
    401: "Missing, invalid or revoked API key.",
    403: "Not allowed.",
    404: "Not found, or owned by another seller.",
    409: "Conflict: invalid state transition, or an Idempotency-Key reused with a different body.",
    413: "Request body over 1 MB.",
    429: "Rate limit exceeded for this API key.",
    502: "The payment provider refused the request.",
    503: "The payment provider is unreachable; retry later.",
}


def error_responses(*codes: int) -> dict:
    """{status: OpenApiResponse(Error)} for extend_schema(responses=...)."""
    every = (400, 401, 404, 429) + codes
    return {code: OpenApiResponse(ErrorSerializer, description=_ERROR_TEXT[code]) for code in sorted(set(every))}


# --- small helpers for views --------------------------------------------------------

def get_owned_or_404(queryset, pk):
    """queryset.get(pk=pk), where queryset is already scoped to the request's seller.
    A malformed id is simply "not found", like another seller's id."""
    try:
        return queryset.get(pk=pk)
    except (queryset.model.DoesNotExist, ValueError, TypeError, DjangoValidationError, OverflowError):
        raise exceptions.NotFound("Not found.") from None


def uuid_or_404(value) -> uuid.UUID:
    """An id from the URL as a UUID; a malformed one is "not found", like any unknown id."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise exceptions.NotFound("Not found.") from None


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer and nothing else: no "12" strings, 12.0 floats or booleans (money stays exact)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """A JSON string and nothing else: DRF's CharField would turn 5 into "5"."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class LenientEmailField(StrictCharField):
    """local@domain.tld, as the contract's own example ("x@y.z") has it; Django's
    EmailValidator would refuse one-letter top-level domains."""

    default_error_messages = {"invalid": "Enter a valid email address."}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 254)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data).strip()
        if value and not re.fullmatch(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+", value):
            self.fail("invalid")
        return value


def seller_of(request):
    """The seller the request's API key acts for (None while drf-spectacular builds the schema)."""
    return getattr(getattr(request, "user", None), "seller", None)


# --- list filters ----------------------------------------------------------------------

class _UtcIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """ISO 8601 in, UTC out. PostgreSQL refuses offsets beyond ±15:59 ("-21:04" is valid
    ISO but not a real zone), and extreme years can overflow when shifted: both are 400s."""

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except (OverflowError, ValueError):
            raise DjangoValidationError("Enter a date/time between years 1 and 9999.", code="invalid") from None


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = _UtcIsoDateTimeField


class CreatedRangeFilterSet(django_filters.FilterSet):
    """created_after (inclusive) and created_before (exclusive), shared by every list."""

    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")

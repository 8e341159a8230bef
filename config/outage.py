"""Redis unreachable where nothing can stand in for it, or the database connection lost in the middle of a
request (PostgreSQL restarted, the backend terminated): 503 with Retry-After, never a 500. The client's
retry gets a fresh connection (config.postgres checks a reused one before each request).

Used by OutageMiddleware (exceptions from views), the API's exception handler (DRF views) and
the 500 handler (exceptions raised in other middleware). API and webhook clients get the one
error shape; people get templates/503.html.
"""
from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

from config.redis import OUTAGE_SECONDS, REDIS_ERRORS, redis_failed

MESSAGE = "A service Kassa depends on is briefly unavailable. Please try again in a few seconds."
_MACHINE_PATHS = ("/api/", "/webhooks/", "/healthz", "/metrics")
DATABASE_ERRORS = (OperationalError, InterfaceError)
log = logging.getLogger("kassa.outage")


def is_outage(exc: BaseException | None) -> bool:
    return isinstance(exc, (*REDIS_ERRORS, *DATABASE_ERRORS))


def outage_noted(use: str, exc: BaseException) -> None:
    """Redis: the one-warning-per-window bookkeeping; the database: one warning line per request."""
    if isinstance(exc, DATABASE_ERRORS):
        log.warning("database unavailable", extra={"use": use, "error": exc.__class__.__name__})
    else:
        redis_failed(use, exc)


def outage_body() -> dict:
    return {"error": {"code": "service_unavailable", "message": MESSAGE, "fields": {}}}


def outage_response(request, exc: BaseException, *, use: str = "request") -> HttpResponse:
    outage_noted(use, exc)
    if request.path.startswith(_MACHINE_PATHS) or "json" in request.headers.get("Accept", ""):
        response = JsonResponse(outage_body(), status=503)
    else:
        try:
            # No request context: context processors (sessions, messages) may be what is down.
            response = HttpResponse(render_to_string("503.html", {"message": MESSAGE}), status=503)
        except Exception:  # noqa: BLE001 - the page itself must not fail
            response = HttpResponse(MESSAGE, status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(OUTAGE_SECONDS)
    return response


class OutageMiddleware:
    """Turns a Redis connection error or timeout, or a lost database connection, raised by a view into a 503."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_outage(exception):
            return outage_response(request, exception, use="view")
        return None

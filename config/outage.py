"""Redis unreachable where nothing can stand in for it: 503 with Retry-After, never a 500.

Used by OutageMiddleware (exceptions from views), the API's exception handler (DRF views) and
the 500 handler (exceptions raised in other middleware). API and webhook clients get the one
error shape; people get templates/503.html.
"""
from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

from config.redis import OUTAGE_SECONDS, REDIS_ERRORS, redis_failed

MESSAGE = "A service Kassa depends on is briefly unavailable. Please try again in a few seconds."
_MACHINE_PATHS = ("/api/", "/webhooks/", "/healthz", "/metrics")


def is_outage(exc: BaseException | None) -> bool:
    return isinstance(exc, REDIS_ERRORS)


def outage_body() -> dict:
    return {"error": {"code": "service_unavailable", "message": MESSAGE, "fields": {}}}


def outage_response(request, exc: BaseException, *, use: str = "request") -> HttpResponse:
    redis_failed(use, exc)
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
    """Turns a Redis connection error or timeout raised by a view into a 503."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_outage(exception):
            return outage_response(request, exception, use="view")
        return None

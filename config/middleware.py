"""Cross-cutting HTTP middleware: body size limit, security headers, request log, admin list lookups."""
import functools
import logging
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.admin.views.main import ERROR_FLAG
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render

log = logging.getLogger("kassa.request")


class BodySizeLimitMiddleware:
    """Answer 413 before anything reads a body over MAX_REQUEST_BODY_BYTES.

    Django itself would raise RequestDataTooBig (a 400) only when the body is parsed;
    checking Content-Length first gives API clients and webhooks a clear 413.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_REQUEST_BODY_BYTES:
            return JsonResponse(
                {"error": {"code": "payload_too_large",
                           "message": f"Request body is larger than {settings.MAX_REQUEST_BODY_BYTES} bytes.",
                           "fields": {}}},
                status=413,
            )
        return self.get_response(request)


class RejectNullBytesMiddleware:
    """400 for a NUL byte in the path or query string. PostgreSQL refuses NUL in text, so
    such a value would otherwise reach a query (an admin filter, a token lookup) as a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        raw = f"{request.path}?{request.META.get('QUERY_STRING', '')}"
        if "\x00" in raw or "%00" in raw:
            return JsonResponse(
                {"error": {"code": "invalid_request", "message": "The URL contains a NUL character.", "fields": {}}},
                status=400,
            )
        return self.get_response(request)


class SecurityHeadersMiddleware:
    """Content-Security-Policy and Permissions-Policy (Django 5.2 has no CSP built in)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        # The admin and Swagger UI ship inline scripts; keep CSP strict for our own pages.
        if not request.path.startswith(("/admin/", "/api/docs")):
            response.headers.setdefault("Content-Security-Policy", content_security_policy())
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        return response


def content_security_policy() -> str:
    """settings.CONTENT_SECURITY_POLICY with form-action extended to where our pages post: Razorpay's
    hosted checkout (RAZORPAY_CHECKOUT_URL), and the sandbox only while SANDBOX_MODE is on."""
    return _with_form_targets(settings.CONTENT_SECURITY_POLICY, settings.RAZORPAY_CHECKOUT_URL,
                              settings.SANDBOX_URL if settings.SANDBOX_MODE else "")


@functools.lru_cache(maxsize=16)
def _with_form_targets(policy: str, *urls: str) -> str:
    origins = [origin for url in urls if (origin := _origin(url))]
    directives = [part.strip() for part in policy.split(";") if part.strip()]
    for index, directive in enumerate(directives):
        if directive.split()[0] == "form-action":
            present = directive.split()[1:]
            directives[index] = " ".join([directive, *(o for o in dict.fromkeys(origins) if o not in present)])
            break
    else:
        directives.append(" ".join(["form-action 'self'", *dict.fromkeys(origins)]))
    return "; ".join(directives)


def _origin(url: str) -> str:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme in ("http", "https") and parts.netloc else ""


class RequestLogMiddleware:
    """One structured log line per request; never logs bodies, query strings or headers."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "ms": round((time.perf_counter() - started) * 1000, 1),
                "seller": getattr(getattr(request, "seller", None), "slug", None),
            },
        )
        return response


# Shopper pages: a shopper who mistypes a link gets the shop's own 404, whatever DEBUG says.
SHOPPER_PREFIXES = ("/s/", "/checkout/", "/me/")


class ShopperNotFoundMiddleware:
    """With DEBUG on, Django answers a 404 with its technical page (the URL map). Shopper URLs get
    templates/404.html anyway, as with DEBUG off, so what a developer sees is what a shopper sees."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if settings.DEBUG and response.status_code == 404 and request.path.startswith(SHOPPER_PREFIXES):
            return render(request, "404.html", status=404)
        return response


class AdminListLookupMiddleware:
    """A hand-edited admin list URL can ask for a date Python cannot make (?created_at__year=0,
    December of year 9999). Django's admin sends staff back to the unfiltered list ("?e=1") only
    for the lookup errors it knows, and these surface later as ValueError or OverflowError, while
    it builds the date drill-down or counts the rows. Answer them the same way, for every
    registered list (third-party ones too), and log it, instead of a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        match = request.resolver_match
        if (not isinstance(exception, (ValueError, OverflowError)) or request.method != "GET" or not request.GET
                or match is None or match.namespace != "admin" or not (match.url_name or "").endswith("_changelist")):
            return None
        log.warning("admin list lookup refused", extra={"path": request.path, "error": exception.__class__.__name__})
        return HttpResponseRedirect(f"{request.path}?{ERROR_FLAG}=1")

"""Operational endpoints: /healthz, /metrics and /favicon.ico; the 500 handler."""
import logging
import sys
import time

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponseForbidden, HttpResponsePermanentRedirect, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.defaults import server_error as default_server_error
from django_prometheus.exports import ExportToDjangoView

import payments.metrics  # noqa: F401  registers Kassa's own gauges
from config.celery_app import app
from config.outage import is_outage, outage_response
from payments.providers.errors import ProviderRejected, ProviderUnavailable
from payments.providers.nano_rpc import MIN_NODE_MAJOR, NanoRpcClient, UnsupportedNode

log = logging.getLogger("kassa.health")


class HealthProblem(Exception):
    """A failed check whose message is safe to publish (no hosts, no credentials)."""


class OptionalProblem(HealthProblem):
    """A failed check that is reported but leaves the process healthy (an outside service is down)."""


NANO_HEALTH_TIMEOUT = 1.0  # seconds: a node that does not answer must not hold up the load balancer's probe


def _check(fn) -> dict:
    started = time.perf_counter()
    try:
        detail = fn()
    except OptionalProblem as exc:
        return {"ok": False, "optional": True, "error": exc.__class__.__name__, "reason": str(exc)}
    except HealthProblem as exc:
        return {"ok": False, "error": exc.__class__.__name__, "reason": str(exc)}
    except Exception as exc:  # a health check reports failures, it never raises
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1), **(detail or {})}


def _database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"vendor": connection.vendor}


def _cache() -> dict:
    cache.set("healthz", "1", 5)
    if cache.get("healthz") != "1":
        raise RuntimeError("cache read-back failed")
    return {"backend": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]}


def _broker() -> dict:
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        return {"transport": conn.transport_cls if isinstance(conn.transport_cls, str) else "custom"}


def _static() -> dict:
    """With the manifest storage (DEBUG=false) every page's {% static %} needs collectstatic's manifest:
    without it each HTML page is a 500, so the web process is not healthy."""
    if not isinstance(staticfiles_storage, ManifestFilesMixin):
        return {"storage": "finders"}
    if not staticfiles_storage.hashed_files:  # what this process loaded when its storage was built
        raise HealthProblem("no static files manifest: run `manage.py collectstatic`, then restart the web process")
    return {"storage": "manifest", "files": len(staticfiles_storage.hashed_files)}


def _nano() -> dict:
    """The Nano node's version. An unsupported node degrades Kassa (Nano payments would never be
    seen); an unreachable one is only reported: everything but Nano still works, and the monitor
    retries on its own."""
    url = settings.NANO_RPC_URL
    if not url:
        return {"configured": False}
    try:
        version = NanoRpcClient(url, timeout=NANO_HEALTH_TIMEOUT, retries=0).version()
    except ProviderUnavailable:
        raise OptionalProblem("the Nano node did not answer; Nano payments wait for it") from None
    except ProviderRejected:
        raise HealthProblem("the Nano node refused the `version` call") from None
    if not version.supported:
        raise HealthProblem(str(UnsupportedNode(version)))
    return {"node_vendor": version.vendor, "min_version": f"V{MIN_NODE_MAJOR}.0",
            "receivable_action": version.receivable_action}


@never_cache
def healthz(request):
    checks = {"database": _check(_database), "cache": _check(_cache), "broker": _check(_broker),
              "static": _check(_static), "nano": _check(_nano)}
    healthy = all(check["ok"] or check.get("optional") for check in checks.values())
    return JsonResponse({"status": "ok" if healthy else "degraded", **checks}, status=200 if healthy else 503)


def favicon(request):
    """Browsers ask for /favicon.ico before (or without) reading the page's <link rel="icon">."""
    return HttpResponsePermanentRedirect(staticfiles_storage.url("favicon.svg"))


def server_error(request):
    """Django's 500 view, except that an unreachable Redis (raised in a middleware, where no view's
    handler saw it) is a 503 with Retry-After: the request can simply be retried."""
    exc = sys.exc_info()[1]  # Django calls this while handling the exception
    if is_outage(exc):
        return outage_response(request, exc, use="middleware")
    return default_server_error(request)


@never_cache
def metrics(request):
    """Prometheus metrics for staff, or for scrapers on loopback / METRICS_ALLOWED_IPS."""
    remote = request.META.get("REMOTE_ADDR", "")
    allowed = remote in getattr(settings, "METRICS_ALLOWED_IPS", ("127.0.0.1", "::1"))
    if not (allowed or (request.user.is_authenticated and request.user.is_staff)):
        return HttpResponseForbidden("Metrics are for staff or the internal network.")
    return ExportToDjangoView(request)

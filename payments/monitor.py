"""One beat tick of the payment monitor. Each method has its own batched tick
function (selectors pick the payments, the provider is asked in bulk, and every
fact goes through observation_apply). A provider that is down changes nothing."""
from __future__ import annotations

import logging
import time

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from payments.metrics import MONITOR_TICK_SECONDS
from payments.providers.errors import ProviderError

log = logging.getLogger("kassa.monitor")

# method → "module.function" returning a dict summary; each is idempotent.
METHOD_TICKS = {
    "nano": "payments.monitor_nano.tick",
    "razorpay": "payments.monitor_gateways.tick_razorpay",
    "coinpay": "payments.monitor_gateways.tick_coinpay",
}


def monitor_ticks_load() -> None:
    """Import every method's tick; ImproperlyConfigured names the first that cannot be (run at start)."""
    for method, dotted in METHOD_TICKS.items():
        try:
            import_string(dotted)
        except ImportError as exc:
            raise ImproperlyConfigured(f"monitor tick for {method!r} ({dotted}) cannot be imported: {exc}") from exc


def monitor_tick(methods: tuple[str, ...] | None = None) -> dict:
    summary, failures = {}, []
    for method in methods or tuple(METHOD_TICKS):
        started = time.perf_counter()
        tick = import_string(METHOD_TICKS[method])  # checked at start: an error here is a real fault
        try:
            summary[method] = tick()
        except ProviderError as exc:
            log.warning("monitor tick skipped", extra={"method": method, "error": exc.__class__.__name__})
            summary[method] = {"error": exc.__class__.__name__}
        except Exception as exc:  # the database lost, a bug: the other methods still get their check
            log.exception("monitor tick failed", extra={"method": method})
            summary[method] = {"error": exc.__class__.__name__}
            failures.append(exc)
        MONITOR_TICK_SECONDS.labels(method).observe(time.perf_counter() - started)
    # Every 10 s: the full summary is for debugging, not for the running log.
    log.debug("monitor tick", extra={"summary": summary})
    if failures:
        raise failures[0]  # after the others ran: the task still fails where it is seen
    return summary

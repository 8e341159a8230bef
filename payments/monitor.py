"""One beat tick of the payment monitor. Each method has its own batched tick
function (selectors pick the payments, the provider is asked in bulk, and every
fact goes through observation_apply). A provider that is down changes nothing."""
from __future__ import annotations

import logging
import time
from importlib import import_module

from payments.providers.errors import ProviderError

log = logging.getLogger("kassa.monitor")

# method → "module.function" returning a dict summary; each is idempotent.
METHOD_TICKS = {
    "nano": "payments.monitor_nano.tick",
    "razorpay": "payments.monitor_gateways.tick_razorpay",
    "coinpay": "payments.monitor_gateways.tick_coinpay",
}


def _resolve(dotted: str):
    module, name = dotted.rsplit(".", 1)
    return getattr(import_module(module), name)


def monitor_tick(methods: tuple[str, ...] | None = None) -> dict:
    from payments.metrics import MONITOR_TICK_SECONDS

    summary = {}
    for method in methods or tuple(METHOD_TICKS):
        started = time.perf_counter()
        try:
            tick = _resolve(METHOD_TICKS[method])
        except (ImportError, AttributeError):
            continue  # method not built yet
        try:
            summary[method] = tick()
        except ProviderError as exc:
            log.warning("monitor tick skipped", extra={"method": method, "error": exc.__class__.__name__})
            summary[method] = {"error": exc.__class__.__name__}
        MONITOR_TICK_SECONDS.labels(method).observe(time.perf_counter() - started)
    log.info("monitor tick", extra={"summary": summary})
    return summary

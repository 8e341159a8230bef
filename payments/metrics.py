"""Kassa's own Prometheus metrics (django-prometheus adds the HTTP/DB ones)."""
from prometheus_client import Counter, Gauge, Histogram

from payments.selectors import review_queue_depth

PAYMENTS_FINAL = Counter("kassa_payments_final_total", "Payments reaching a final status", ["method", "status"])
MONITOR_TICK_SECONDS = Histogram("kassa_monitor_tick_seconds", "Duration of one monitor tick", ["method"])
MONITOR_RPC_CALLS = Counter("kassa_monitor_rpc_calls_total", "Provider calls made by the monitor", ["method"])
WEBHOOKS_RECEIVED = Counter("kassa_webhooks_received_total", "Inbound webhooks", ["provider", "valid"])
WEBHOOKS_DELIVERED = Counter("kassa_webhooks_delivered_total", "Outbound webhook attempts", ["ok"])


def _review_depth() -> float:
    try:
        return float(review_queue_depth())
    except Exception:  # the DB may be unreachable while scraping; report nothing rather than fail
        return float("nan")


REVIEW_QUEUE_DEPTH = Gauge("kassa_review_queue_depth", "Items waiting in the staff review queue")
REVIEW_QUEUE_DEPTH.set_function(_review_depth)

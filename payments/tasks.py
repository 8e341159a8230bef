"""Celery tasks: thin wrappers around services, ids only.

Tasks call services; services never import this module. A service that queues one of these looks
it up by name (config.celery_app.task_named) after commit.
"""
import logging
import time

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from payments.analytics import daily_stats_refresh_all
from payments.checks import payment_check
from payments.models import Payment
from payments.monitor import monitor_tick
from payments.notice_reports import order_paid_digests_queue, review_digest_queue, weekly_reports_queue
from payments.providers.errors import ProviderError
from payments.services import (
    payment_expire_stale,
    payment_release_reservations,
    refunds_reconcile_pending,
)
from payments.settlement import settle_all
from payments.webhooks import inbound_webhook_process, inbound_webhooks_drain, inbound_webhooks_purge_invalid

log = logging.getLogger("kassa.tasks")


@shared_task(ignore_result=True)
def monitor_pending_payments() -> None:
    # Nothing returned: the worker logs a task's result at INFO every 10 s (monitor_tick logs it at DEBUG).
    monitor_tick()


@shared_task(ignore_result=True)
def expire_stale_payments() -> int:
    started = time.perf_counter()
    count = payment_expire_stale()
    log.info("expire tick", extra={"expired": count, "ms": round((time.perf_counter() - started) * 1000, 1)})
    return count


@shared_task(ignore_result=True)
def verify_payment(payment_id: str) -> None:
    """A shopper's "I've paid" without a reference, checked off the request (payment_check_soon)."""
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None or not payment.is_active:
        return
    try:
        payment_check(payment=payment)
    except ProviderError as exc:  # the node is down: the beat tick checks again anyway
        log.info("verify check failed", extra={"payment": payment_id, "error": exc.__class__.__name__})


@shared_task(ignore_result=True)
def release_amount_reservations() -> int:
    return payment_release_reservations()


@shared_task(ignore_result=True)
def reconcile_pending_refunds() -> int:
    return refunds_reconcile_pending()


@shared_task(ignore_result=True)
def settle() -> dict:
    return settle_all()


@shared_task(ignore_result=True, acks_late=True)
def process_inbound_webhook(webhook_id: int) -> None:
    inbound_webhook_process(webhook_id=webhook_id)


@shared_task(ignore_result=True, acks_late=True)
def process_pending_webhooks() -> int:
    """The coalesced drain behind webhooks_kick(): every valid "received" row, oldest first."""
    return inbound_webhooks_drain()


@shared_task(ignore_result=True)
def ping(marker: str) -> str:
    """Used by the integration test to prove a real worker consumes our queue."""
    cache.set(f"ping:{marker}", "pong", 60)
    return marker


@shared_task(ignore_result=True)
def purge_invalid_webhooks() -> int:
    return inbound_webhooks_purge_invalid(older_than_days=settings.INBOUND_INVALID_RETENTION_DAYS)


@shared_task(ignore_result=True)
def email_order_paid_digests() -> int:
    return order_paid_digests_queue()


@shared_task(ignore_result=True)
def email_weekly_reports() -> int:
    return weekly_reports_queue()


@shared_task(ignore_result=True)
def email_review_digest() -> bool:
    return review_digest_queue()


@shared_task(ignore_result=True)
def refresh_dashboard_rollups(overlap_days: int = 3) -> int:
    """Keeps the dashboard's DailyStat rollup fresh (payments.analytics)."""
    return daily_stats_refresh_all(overlap_days=overlap_days)

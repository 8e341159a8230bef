"""Celery tasks: thin wrappers around services, ids only."""
import logging
import time

from celery import shared_task

log = logging.getLogger("kassa.tasks")


@shared_task(ignore_result=True)
def monitor_pending_payments() -> None:
    from payments.monitor import monitor_tick

    # Nothing returned: the worker logs a task's result at INFO every 10 s (monitor_tick logs it at DEBUG).
    monitor_tick()


@shared_task(ignore_result=True)
def expire_stale_payments() -> int:
    from payments.services import payment_expire_stale

    started = time.perf_counter()
    count = payment_expire_stale()
    log.info("expire tick", extra={"expired": count, "ms": round((time.perf_counter() - started) * 1000, 1)})
    return count


@shared_task(ignore_result=True)
def verify_payment(payment_id: str) -> None:
    """A shopper's "I've paid" without a reference, checked off the request (payment_check_soon)."""
    from payments.models import Payment
    from payments.providers.errors import ProviderError
    from payments.services import payment_verify

    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None or not payment.is_active:
        return
    try:
        payment_verify(payment=payment)
    except ProviderError as exc:  # the node is down: the beat tick checks again anyway
        log.info("verify check failed", extra={"payment": payment_id, "error": exc.__class__.__name__})


@shared_task(ignore_result=True)
def release_amount_reservations() -> int:
    from payments.services import payment_release_reservations

    return payment_release_reservations()


@shared_task(ignore_result=True)
def reconcile_pending_refunds() -> int:
    from payments.services import refunds_reconcile_pending

    return refunds_reconcile_pending()


@shared_task(ignore_result=True)
def settle() -> dict:
    from payments.settlement import settle_all

    return settle_all()


@shared_task(ignore_result=True, acks_late=True)
def process_inbound_webhook(webhook_id: int) -> None:
    from payments.webhooks import inbound_webhook_process

    inbound_webhook_process(webhook_id=webhook_id)


@shared_task(ignore_result=True, acks_late=True)
def process_pending_webhooks() -> int:
    """The coalesced drain behind webhooks_kick(): every valid "received" row, oldest first."""
    from payments.webhooks import inbound_webhooks_drain

    return inbound_webhooks_drain()


@shared_task(ignore_result=True)
def ping(marker: str) -> str:
    """Used by the integration test to prove a real worker consumes our queue."""
    from django.core.cache import cache

    cache.set(f"ping:{marker}", "pong", 60)
    return marker


@shared_task(ignore_result=True)
def purge_invalid_webhooks() -> int:
    from django.conf import settings

    from payments.webhooks import inbound_webhooks_purge_invalid

    return inbound_webhooks_purge_invalid(older_than_days=settings.INBOUND_INVALID_RETENTION_DAYS)

"""Celery tasks for sellers: thin wrappers around services (ids only)."""
from celery import shared_task


@shared_task(ignore_result=True)
def deliver_webhook(delivery_id: int) -> None:
    from sellers.webhooks import delivery_attempt

    delivery_attempt(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def deliver_due_webhooks() -> int:
    from sellers.webhooks import deliveries_send_due

    return deliveries_send_due()


@shared_task(ignore_result=True)
def purge_expired_idempotency_keys() -> int:
    from datetime import timedelta

    from django.utils import timezone

    from sellers.models import IdempotencyKey

    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - timedelta(hours=24)).delete()
    return deleted

"""Celery tasks for outbound webhooks: thin wrappers around webhooks.delivery (ids only)."""
from celery import shared_task

from webhooks.delivery import deliveries_send_due, delivery_attempt


@shared_task(ignore_result=True)
def deliver_webhook(delivery_id: int) -> None:
    delivery_attempt(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def deliver_due_webhooks() -> int:
    return deliveries_send_due()

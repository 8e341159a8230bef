"""Celery tasks for email: thin wrappers around notifications.services (ids only)."""
from celery import shared_task

from notifications.services import outbox_send, outbox_sweep


@shared_task(ignore_result=True, acks_late=True)
def send_email(email_id: int) -> str:
    return outbox_send(email_id=email_id)


@shared_task(ignore_result=True)
def send_due_emails() -> int:
    """Beat's sweep: retries after backoff, rows whose after-commit task was lost, crashed sends."""
    return outbox_sweep()

"""Celery tasks for email: thin wrappers around notifications.services (ids only)."""
from celery import shared_task


@shared_task(ignore_result=True, acks_late=True)
def send_email(email_id: int) -> str:
    from notifications.services import outbox_send

    return outbox_send(email_id=email_id)


@shared_task(ignore_result=True)
def send_due_emails() -> int:
    """Beat's sweep: retries after backoff, rows whose after-commit task was lost, crashed sends."""
    from notifications.services import outbox_sweep

    return outbox_sweep()

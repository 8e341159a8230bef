"""Celery tasks for sellers: thin wrappers around services (ids only)."""
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from sellers.models import IdempotencyKey


@shared_task(ignore_result=True)
def purge_expired_idempotency_keys() -> int:
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - timedelta(hours=24)).delete()
    return deleted

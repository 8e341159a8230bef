"""Inbound provider webhooks, stored before processing."""
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from sellers.models import METHOD_CHOICES


class InboundWebhook(models.Model):
    """A provider's webhook exactly as received, stored before processing."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Processing failed"
        INVALID = "invalid", "Invalid signature"
        IGNORED = "ignored", "Ignored event type"

    provider = models.CharField(max_length=16, choices=METHOD_CHOICES)
    event_id = models.CharField(max_length=128)
    event_type = models.CharField(max_length=60, blank=True)
    signature_valid = models.BooleanField(default=False)
    headers = models.JSONField(default=dict)
    # The body as received; for a bad signature only its first INVALID_BODY_PREFIX bytes (unauthenticated
    # input must not fill the disk), with the whole body's length and SHA-256 as evidence.
    body = models.TextField()
    body_bytes = models.PositiveIntegerField(default=0)
    body_sha256 = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When a failed row's retry is due (None: no retry). The retry is one broker message; if the broker
    # loses it, the gateway monitor re-queues the row once this is well past.
    retry_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # Staff dismissed this (e.g. an invalid signature) from the review queue.
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            # Only valid deliveries reserve an event id: a forged body must not block the real one.
            models.UniqueConstraint(fields=["provider", "event_id"], condition=Q(signature_valid=True),
                                    name="inbound_webhook_unique_event"),
        ]
        indexes = [models.Index(fields=["status", "received_at"], name="inbound_status_idx")]

    def __str__(self) -> str:
        return f"{self.provider}:{self.event_type}:{self.event_id}"

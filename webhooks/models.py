"""The outbound-webhook outbox: a seller's endpoints, one delivery row per event and endpoint, and
every attempt. The tables keep their sellers_ names: they moved here from the sellers app."""
from django.db import models
from django.utils.timezone import now

from sellers.models import Seller


class WebhookEndpoint(models.Model):
    EVENT_TYPES = [
        "order.paid", "payment.completed", "payment.expired", "payment.failed",
        "payment.paid_late", "refund.succeeded", "refund.failed",
    ]

    seller = models.ForeignKey(Seller, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, help_text="Event types to send; empty means all.")
    # Kept in clear because we must sign with it; shown to the seller once (Standard Webhooks).
    secret = models.CharField(max_length=80)
    description = models.CharField(max_length=120, blank=True)
    is_active = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        db_table = "sellers_webhookendpoint"  # the table predates this app
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return self.is_active and (not self.events or event_type in self.events)


class WebhookDelivery(models.Model):
    """One event message to one endpoint (the outbox row), with its retry state.

    Rows are written in the same transaction as the state change that caused them,
    then sent after commit; every attempt is recorded in WebhookAttempt.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed (will retry)"
        DEAD = "dead", "Gave up"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    seller = models.ForeignKey(Seller, on_delete=models.CASCADE, related_name="+")
    message_id = models.CharField(max_length=64, help_text="webhook-id: stable across retries")
    event_type = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=now)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "sellers_webhookdelivery"
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due_idx"),
            models.Index(fields=["seller", "created_at"], name="delivery_seller_created_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "message_id"], name="delivery_unique_endpoint_message"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.message_id} ({self.status})"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField(default=now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.CharField(max_length=500, blank=True)

    class Meta:
        db_table = "sellers_webhookattempt"
        ordering = ["-attempted_at"]

    def __str__(self) -> str:
        return f"attempt {self.status_code or self.error[:40]}"

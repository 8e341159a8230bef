"""Refunds, and shoppers' requests for them."""
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from orders.models import ActorType
from payments.models.payment import Payment
from sellers.models import Seller
from sellers.money import format_minor


class Refund(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        # Nano is non-custodial: the seller sends the XNO from their own wallet; the node shows it.
        AWAITING_SELLER = "awaiting_seller", "Waiting for the seller to send"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        # Nano only: the seller withdrew a refund they never sent; nothing moved.
        CANCELLED = "cancelled", "Cancelled"

    # Not final yet: these count against what is left to refund.
    OPEN_STATUSES = (Status.PENDING, Status.AWAITING_SELLER)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    seller = models.ForeignKey(Seller, on_delete=models.PROTECT, related_name="refunds")
    amount = models.PositiveBigIntegerField(help_text="Order currency, minor units.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(max_length=200, blank=True)
    # Nano: the seller's send block hash, once the node shows it (unique: one send settles one refund).
    provider_refund_id = models.CharField(max_length=100, blank=True)
    # Nano only: what the seller must send, fixed when the refund is created.
    send_from = models.CharField(max_length=65, blank=True, help_text="Nano: the seller's address that was paid.")
    send_to = models.CharField(max_length=65, blank=True, help_text="Nano: the shopper's sending account.")
    amount_raw = models.CharField(max_length=40, blank=True, help_text="Nano: the amount to send, in raw.")
    # Nano: send_from's block count when the refund was made; only a send above it counts.
    after_height = models.PositiveBigIntegerField(null=True, blank=True)
    failure_reason = models.CharField(max_length=300, blank=True)
    actor_type = models.CharField(max_length=10, choices=ActorType.choices, default=ActorType.SYSTEM)
    actor_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["seller", "created_at"], name="refund_seller_created_idx"),
            # The monitor reads the few Nano refunds still waiting for the seller's send on every tick.
            models.Index(fields=["created_at"], condition=Q(status="awaiting_seller"),
                         name="refund_awaiting_seller_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["provider_refund_id"], condition=~Q(provider_refund_id=""),
                                    name="refund_unique_provider_id"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
        ]

    def __str__(self) -> str:
        currency = self.payment.currency if self.payment_id else ""
        amount = format_minor(self.amount, currency) if currency else f"{self.amount:,} minor units"
        return f"Refund {amount} ({self.get_status_display()})"


class RefundRequest(models.Model):
    """A shopper's request for a refund; the seller approves it in the dashboard."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="refund_requests")
    seller = models.ForeignKey(Seller, on_delete=models.CASCADE, related_name="refund_requests")
    partner_user_id = models.CharField(max_length=254, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.REQUESTED)
    refund = models.ForeignKey(Refund, null=True, blank=True, on_delete=models.SET_NULL)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["payment"], condition=Q(status="requested"),
                                    name="refund_request_one_open_per_payment"),
        ]

    def __str__(self) -> str:
        return f"refund request {self.status} for {self.payment_id}"

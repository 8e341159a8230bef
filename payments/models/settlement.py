"""Money moved to a seller, or a fee receivable from one."""
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from payments.models.payment import Payment
from sellers.models import METHOD_CHOICES, Seller
from sellers.money import format_minor


class Settlement(models.Model):
    """Money moved to a seller (Route transfer, CoinPay payout), or a fee receivable
    accrued from a non-custodial (Nano) seller."""

    class Kind(models.TextChoices):
        TRANSFER = "transfer", "Razorpay Route transfer"
        PAYOUT = "payout", "CoinPay payout"
        FEE_RECEIVABLE = "fee_receivable", "Fee receivable (non-custodial)"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        IN_FLIGHT = "in_flight", "In flight"
        PAID = "paid", "Paid"
        FAILED = "failed", "Failed"
        REVERSED = "reversed", "Reversed"

    seller = models.ForeignKey(Seller, on_delete=models.PROTECT, related_name="settlements")
    method = models.CharField(max_length=16, choices=METHOD_CHOICES)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    currency = models.CharField(max_length=5)
    amount = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    destination = models.CharField(max_length=128, blank=True)
    provider_ref = models.CharField(max_length=100, blank=True)
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="settlements")
    failure_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Staff looked at this failure (retried or dismissed it): it leaves the review queue.
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["seller", "status"], name="settlement_seller_status_idx")]
        constraints = [
            models.UniqueConstraint(fields=["provider_ref"], condition=~Q(provider_ref=""),
                                    name="settlement_unique_provider_ref"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {format_minor(self.amount, self.currency)} ({self.get_status_display()})"

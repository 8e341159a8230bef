"""Money seen on a network or gateway."""
from django.conf import settings
from django.db import models
from django.utils import timezone

from payments.models.payment import Payment, method_name
from sellers.models import METHOD_CHOICES
from sellers.money import format_minor, format_raw_xno


class Receipt(models.Model):
    """Money seen on a network or gateway: one row per (provider, external_tx_id).

    The unique constraint is what makes observation_apply idempotent. An unmatched
    receipt (payment is null) waits in the review queue for staff to assign it.
    """

    class State(models.TextChoices):
        SEEN = "seen", "Seen, unconfirmed"
        CONFIRMED = "confirmed", "Confirmed"
        FAILED = "failed", "Failed"

    class Resolution(models.TextChoices):
        NONE = "", "Open"
        MATCHED = "matched", "Matched automatically"
        ASSIGNED = "assigned", "Assigned by staff"
        IGNORED = "ignored", "Ignored by staff"

    provider = models.CharField(max_length=16, choices=METHOD_CHOICES)
    external_tx_id = models.CharField(max_length=128)
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="receipts")
    pay_to = models.CharField(max_length=128, blank=True, db_index=True)
    amount = models.CharField(max_length=40, help_text="Wire units: raw for XNO, minor for fiat.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.SEEN)
    resolution = models.CharField(max_length=10, choices=Resolution.choices, default=Resolution.NONE, blank=True)
    source_account = models.CharField(max_length=128, blank=True)
    data = models.JSONField(default=dict, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "external_tx_id"], name="receipt_unique_provider_tx"),
        ]

    def __str__(self) -> str:
        return f"{method_name(self.provider)} receipt {self.amount_display} (tx {self.external_tx_id[:12]}…)"

    @property
    def amount_display(self) -> str:
        """Wire units made readable: raw XNO exactly; a gateway's minor units in its payment's currency
        (an unmatched gateway receipt has no currency of its own, so it says "minor units")."""
        if not str(self.amount or "").strip().isdigit():
            return str(self.amount)
        if self.provider == "nano":
            return format_raw_xno(self.amount)
        if self.payment_id is not None:
            return format_minor(int(self.amount), self.payment.pay_currency)
        return f"{int(self.amount):,} minor units"

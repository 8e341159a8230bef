"""The email outbox and each seller's email settings.

An OutboxEmail is written in the same transaction as the change that causes it, already
rendered (this app sits below orders and payments and never reads them), and sent by a
Celery task after commit. Its key is unique per (kind, object[, period]), so a fact applied
twice queues one email.
"""
import hashlib

from django.conf import settings
from django.db import models
from django.utils.timezone import now

from notifications.kinds import SELLER_KINDS, Kind
from sellers.models import Seller


class OutboxEmail(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"  # claimed by a worker; the sweep reclaims it after a lease
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=32, choices=Kind.choices, db_index=True)
    key = models.CharField(max_length=200, unique=True)
    seller = models.ForeignKey(Seller, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    to = models.JSONField(default=list)
    subject = models.CharField(max_length=255)
    text = models.TextField()
    html = models.TextField(blank=True)
    attachments = models.JSONField(default=list, blank=True)  # [{"filename", "content", "mimetype"}], text only
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)
    next_attempt_at = models.DateTimeField(default=now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("resend_email", "Can resend an outbox email")]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbox_due_idx")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"

    @property
    def message_id(self) -> str:
        """Stable per outbox key: a resend after a crash carries the same Message-ID, so the
        receiving side can drop the copy (the guarantee is at-least-once, README "Email")."""
        digest = hashlib.sha256(self.key.encode()).hexdigest()[:32]
        domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(">") or "kassa.local"
        return f"<{digest}@{domain}>"


class SellerEmailSettings(models.Model):
    """Which notices a seller gets and who among its members receives them."""

    class OrderPaid(models.TextChoices):
        EACH = "each", "An email for each paid order"
        DIGEST = "digest", "One daily digest"

    seller = models.OneToOneField(Seller, on_delete=models.CASCADE, related_name="email_settings")
    disabled_kinds = models.JSONField(default=list, blank=True)
    order_paid_mode = models.CharField(max_length=8, choices=OrderPaid.choices, default=OrderPaid.EACH)
    # Empty means every owner and admin of the seller.
    recipients = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    require_customer_email = models.BooleanField(
        default=False, help_text="Checkout asks every shopper for an email address for the receipt.")

    def __str__(self) -> str:
        return f"email settings of {self.seller}"

    def is_enabled(self, kind: str) -> bool:
        kind = Kind.ORDER_PAID if kind == Kind.ORDER_PAID_DIGEST else kind
        return kind not in SELLER_KINDS or kind not in self.disabled_kinds

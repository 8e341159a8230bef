"""The payment: what a shopper owes through one method, and its timeline."""
import uuid

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from orders.models import Order, TimelineEvent
from sellers.models import METHOD_CHOICES, Seller
from sellers.money import format_minor, format_raw_xno


def method_name(method: str) -> str:
    """"Nano", "Razorpay", "CoinPay": the label without its "(XNO)", since amounts carry the symbol."""
    return dict(METHOD_CHOICES).get(method, method).split(" (")[0]


class PaymentQuerySet(models.QuerySet):
    def for_seller(self, seller):
        return self.filter(seller=seller)

    def active(self):
        return self.filter(status__in=Payment.ACTIVE_STATUSES)

    def reserved(self):
        return self.filter(amount_reserved=True)

    def with_exception(self, code: str):
        # JSONField icontains works on SQLite and Postgres alike; quotes anchor the code.
        return self.filter(exceptions__icontains=f'"{code}"')

    def needs_review(self):
        return self.filter(review_status=Payment.Review.OPEN)

    def in_range(self, start, end):
        return self.filter(created_at__gte=start, created_at__lt=end)


class Payment(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CONFIRMING = "confirming", "Confirming"
        COMPLETED = "completed", "Completed"
        PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
        REFUNDED = "refunded", "Refunded"
        EXPIRED = "expired", "Expired"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Exception_(models.TextChoices):
        PAID_LATE = "paid_late", "Paid late"
        DUPLICATE = "duplicate", "Duplicate payment"
        OVERPAID = "overpaid", "Overpaid"
        UNDERPAID = "underpaid", "Underpaid"
        DISPUTED = "disputed", "Claimed by another payment"

    class Review(models.TextChoices):
        NONE = "", "No review needed"
        OPEN = "open", "Needs review"
        RESOLVED = "resolved", "Resolved"

    ACTIVE_STATUSES = ("pending", "confirming")
    PAID_STATUSES = ("completed", "partially_refunded", "refunded")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    seller = models.ForeignKey(Seller, on_delete=models.PROTECT, related_name="payments")
    method = models.CharField(max_length=16, choices=METHOD_CHOICES)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    exceptions = models.JSONField(default=list, blank=True)
    review_status = models.CharField(max_length=10, choices=Review.choices, default=Review.NONE, blank=True)

    # What the order asks for, in the order's currency (minor units).
    currency = models.CharField(max_length=3)
    amount = models.PositiveBigIntegerField()
    # What the shopper must send, in pay_currency's minor unit (µXNO for XNO: always whole,
    # so it fits a BigInteger; the API renders raw = µXNO × 10^24).
    pay_currency = models.CharField(max_length=5)
    amount_due = models.PositiveBigIntegerField()
    # Everything received so far, in the wire unit (raw for XNO, minor for fiat), as digits:
    # raw amounts exceed 64 bits.
    amount_received = models.CharField(max_length=40, default="0")
    # pay_currency minor units per order-currency minor unit, locked at start (fiat-priced XNO).
    rate = models.DecimalField(max_digits=30, decimal_places=12, null=True, blank=True)
    rate_source = models.CharField(max_length=40, blank=True)

    pay_to = models.CharField(max_length=128, blank=True, help_text="Nano address, or the gateway's order id.")
    payment_uri = models.CharField(max_length=300, blank=True)
    provider_ref = models.CharField(max_length=100, blank=True, db_index=True)
    checkout_params = models.JSONField(default=dict, blank=True)
    # Reservation of (pay_to, amount_due): held while active and through the monitoring window.
    amount_reserved = models.BooleanField(default=False)
    reserved_until = models.DateTimeField(null=True, blank=True)

    expires_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    tx_id = models.CharField(max_length=128, blank=True, db_index=True)
    refunded_amount = models.PositiveBigIntegerField(default=0)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_webhook_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PaymentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["seller", "created_at"], name="payment_seller_created_idx"),
            models.Index(fields=["seller", "status", "created_at"], name="payment_seller_status_idx"),
            models.Index(fields=["status", "expires_at"], name="payment_status_expires_idx"),
            models.Index(fields=["method", "status", "created_at"], name="payment_method_status_idx"),
            models.Index(fields=["review_status", "created_at"], name="payment_review_idx"),
            models.Index(fields=["amount_reserved", "reserved_until"], name="payment_reservation_idx"),
        ]
        constraints = [
            # Two reserved payments to one address never share an amount (README "How money moves").
            models.UniqueConstraint(fields=["pay_to", "amount_due"], condition=Q(amount_reserved=True),
                                    name="payment_unique_reserved_amount"),
            models.CheckConstraint(condition=Q(refunded_amount__lte=F("amount")), name="payment_refund_within_amount"),
        ]
        # Staff admin actions (issue 7); granted to the "Support" and "Finance" groups.
        permissions = [
            ("recheck_payment", "Can re-check payments with the provider"),
            ("expire_payment", "Can expire a pending payment now"),
            ("refund_payment", "Can refund payments"),
            ("decide_late_payment", "Can accept late payments and resolve payment reviews"),
            ("assign_receipt", "Can assign unmatched receipts to payments"),
            ("manage_settlements", "Can manage settlements"),
            ("reprocess_webhook", "Can reprocess and dismiss inbound webhooks"),
        ]

    def __str__(self) -> str:
        # One notation with the shopper's pages: "Nano Ӿ28.000000 for ₹1,798.00 (Pending)".
        due = format_minor(self.amount_due, self.pay_currency)
        priced = "" if self.pay_currency == self.currency else f" for {format_minor(self.amount, self.currency)}"
        return f"{method_name(self.method)} {due}{priced} ({self.get_status_display()})"

    @property
    def short_id(self) -> str:
        return str(self.pk)[:8]

    @property
    def amount_received_display(self) -> str:
        """What arrived, in the pay currency's notation (wire units: raw for XNO)."""
        if self.pay_currency == "XNO":
            return format_raw_xno(self.amount_received or "0")
        return format_minor(self.amount_received_int, self.pay_currency)

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def amount_received_int(self) -> int:
        return int(self.amount_received or 0)

    @property
    def refundable_amount(self) -> int:
        return self.amount - self.refunded_amount if self.status in ("completed", "partially_refunded") else 0


class PaymentEvent(TimelineEvent):
    """The payment's timeline."""

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="events")
    SUBJECT = "payment"  # whose timeline (orders.services.timeline_events_insert)

    class Meta(TimelineEvent.Meta):
        pass

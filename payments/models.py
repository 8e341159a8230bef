"""Payments, the facts we observe about money, refunds, inbound webhooks,
and the ledger. Status changes only through payments.services."""
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Exists, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from orders.models import ActorType, Order, TimelineEvent
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


class LedgerEntryQuerySet(models.QuerySet):
    def unsettled(self):
        """Entries no live settlement covers: never settled, or released by one that failed."""
        return self.filter(~Exists(SettlementItem.objects.live().filter(entry=OuterRef("pk"))))

    def with_settlement_status(self):
        """Annotate `settlement_status`: the status of the settlement covering each entry now, or
        NOT_COVERED. At most one live item per entry (a unique index), so one value per row."""
        covering = SettlementItem.objects.live().filter(entry=OuterRef("pk")).values("settlement__status")[:1]
        return self.annotate(settlement_status=Coalesce(Subquery(covering), Value(LedgerEntry.NOT_COVERED)))


class LedgerEntry(models.Model):
    """One money movement, split exactly: gross == fee + net (a database check).

    kind=payment rows are written when a payment completes; kind=refund rows are
    negative. A row is never updated or deleted (database triggers); which transfer,
    payout or fee receivable covers it is a SettlementItem.
    """

    class Kind(models.TextChoices):
        PAYMENT = "payment", "Payment"
        REFUND = "refund", "Refund"
        ADJUSTMENT = "adjustment", "Adjustment"

    class Custody(models.TextChoices):
        PLATFORM = "platform", "Platform holds the funds"
        SELLER = "seller", "Seller holds the funds (non-custodial)"

    # with_settlement_status()'s value for an entry that no live settlement covers.
    NOT_COVERED = ""

    seller = models.ForeignKey(Seller, on_delete=models.PROTECT, related_name="ledger_entries")
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entries")
    refund = models.OneToOneField(Refund, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_entry")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    custody = models.CharField(max_length=10, choices=Custody.choices)
    method = models.CharField(max_length=16, choices=METHOD_CHOICES)
    currency = models.CharField(max_length=5)
    gross = models.BigIntegerField()
    fee = models.BigIntegerField()
    net = models.BigIntegerField()
    fee_bps = models.PositiveIntegerField()
    memo = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = LedgerEntryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "ledger entries"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["seller", "created_at"], name="ledger_seller_created_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(gross=F("fee") + F("net")), name="ledger_gross_is_fee_plus_net"),
            models.UniqueConstraint(fields=["payment"], condition=Q(kind="payment"),
                                    name="ledger_one_payment_entry"),
        ]

    def __str__(self) -> str:
        gross, fee, net = (format_minor(v, self.currency) for v in (self.gross, self.fee, self.net))
        return f"{self.get_kind_display()} {gross} = fee {fee} + net {net}"


class SettlementItemQuerySet(models.QuerySet):
    def live(self):
        return self.filter(released_at__isnull=True)


class SettlementItem(models.Model):
    """One ledger entry covered by one settlement. The link lives here, not on the entry, so
    the ledger stays strictly append-only. A settlement that fails releases its items
    (released_at): the entries are owed again and the record of what it covered stays.
    An entry has at most one live item, which the database enforces, so two runs never
    settle the same money."""

    settlement = models.ForeignKey(Settlement, on_delete=models.CASCADE, related_name="items")
    entry = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="settlement_items")
    released_at = models.DateTimeField(null=True, blank=True)

    objects = SettlementItemQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entry"], condition=Q(released_at__isnull=True),
                                    name="settlement_item_one_live_per_entry"),
            models.UniqueConstraint(fields=["settlement", "entry"], name="settlement_item_once_per_settlement"),
        ]

    def __str__(self) -> str:
        return f"entry {self.entry_id} in settlement {self.settlement_id}" + (" (released)" if self.released_at else "")


class NanoCursor(models.Model):
    """Per watched Nano account: the last frontier we read (history is read only when it moved) and the
    baseline taken at its first read, so money that predates the watch never completes a payment.
    The row is deleted when the address has no reserved payment left: a later payment takes a new baseline."""

    address = models.CharField(max_length=70, unique=True)
    frontier = models.CharField(max_length=64, blank=True)
    # When the baseline was taken (null: not yet) and the receivable sends (hashes) that were there before.
    baseline_at = models.DateTimeField(null=True, blank=True)
    preexisting = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.address

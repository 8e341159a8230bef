"""The append-only ledger, and which settlement covers each entry."""
from django.db import models
from django.db.models import Exists, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from payments.models.payment import Payment
from payments.models.refund import Refund
from payments.models.settlement import Settlement
from sellers.models import METHOD_CHOICES, Seller
from sellers.money import format_minor


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

"""Reads for settlement: what each seller is owed, has in flight, was paid, and owes us."""
from __future__ import annotations

from collections import defaultdict

from django.db.models import Q, Sum

from payments.models import LedgerEntry, Settlement

_ACTIVE = (Settlement.Status.PENDING, Settlement.Status.IN_FLIGHT)
_MONEY_OUT = (Settlement.Kind.TRANSFER, Settlement.Kind.PAYOUT)


def seller_balances(seller) -> dict[str, dict[str, int]]:
    """Per currency, in minor units: {"INR": {"owed", "in_flight", "paid_out", "fee_receivable"}}.

    owed: platform-held net not yet covered by a transfer/payout; in_flight: sent,
    not confirmed; paid_out: confirmed, net of reversals; fee_receivable: platform
    fees on money the seller holds (Nano), accrued or not, not yet collected. Three queries.
    """
    balances: dict[str, dict[str, int]] = defaultdict(
        lambda: {"owed": 0, "in_flight": 0, "paid_out": 0, "fee_receivable": 0})
    entries = LedgerEntry.objects.filter(seller=seller)
    owed = (entries.filter(custody=LedgerEntry.Custody.PLATFORM)
            .filter(Q(settlement__isnull=True) | Q(settlement__status=Settlement.Status.FAILED))
            .values("currency").annotate(total=Sum("net")))
    for row in owed:
        balances[row["currency"]]["owed"] += row["total"] or 0
    fees = (entries.filter(custody=LedgerEntry.Custody.SELLER)
            .exclude(settlement__status=Settlement.Status.PAID)
            .values("currency").annotate(total=Sum("fee")))
    for row in fees:
        balances[row["currency"]]["fee_receivable"] += row["total"] or 0
    moved = (Settlement.objects.filter(seller=seller, kind__in=_MONEY_OUT)
             .values("currency", "status").annotate(total=Sum("amount")))
    for row in moved:
        if row["status"] in _ACTIVE:
            balances[row["currency"]]["in_flight"] += row["total"] or 0
        elif row["status"] in (Settlement.Status.PAID, Settlement.Status.REVERSED):
            balances[row["currency"]]["paid_out"] += row["total"] or 0
    return dict(balances)


def settlements_for_seller(seller):
    return Settlement.objects.filter(seller=seller).order_by("-created_at")

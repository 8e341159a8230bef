"""Reads for settlement: what each seller is owed, has in flight, was paid, and owes us."""
from __future__ import annotations

from collections import defaultdict

from django.db.models import Sum

from payments.models import LedgerEntry, Settlement

_ACTIVE = (Settlement.Status.PENDING, Settlement.Status.IN_FLIGHT)
_MONEY_OUT = (Settlement.Kind.TRANSFER, Settlement.Kind.PAYOUT)
# A custodial entry is owed while no live settlement covers it, or the one covering it failed.
_OWED = (LedgerEntry.NOT_COVERED, Settlement.Status.FAILED)


def seller_balances(seller) -> dict[str, dict[str, int]]:
    """Per currency, in minor units: {"INR": {"owed", "in_flight", "paid_out", "fee_receivable"}}.

    owed: platform-held net not yet covered by a transfer/payout; in_flight: sent,
    not confirmed; paid_out: confirmed, net of reversals; fee_receivable: platform
    fees on money the seller holds (Nano), accrued or not, not yet collected. Two queries.
    """
    balances: dict[str, dict[str, int]] = defaultdict(
        lambda: {"owed": 0, "in_flight": 0, "paid_out": 0, "fee_receivable": 0})
    entries = (LedgerEntry.objects.filter(seller=seller).with_settlement_status().order_by()
               .values("currency", "custody", "settlement_status").annotate(net=Sum("net"), fee=Sum("fee")))
    for row in entries:
        status = row["settlement_status"]
        if row["custody"] == LedgerEntry.Custody.PLATFORM and status in _OWED:
            balances[row["currency"]]["owed"] += row["net"] or 0
        elif row["custody"] == LedgerEntry.Custody.SELLER and status != Settlement.Status.PAID:
            balances[row["currency"]]["fee_receivable"] += row["fee"] or 0
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

"""The ledger entry a completed payment writes (gross = fee + net)."""
from __future__ import annotations

from payments.models import LedgerEntry, Payment
from payments.money import fee_split
from payments.services.transitions import CUSTODIAL_METHODS


def ledger_record_payment(*, payment: Payment) -> LedgerEntry:
    """One entry per completed payment (unique), split exactly by the seller's fee."""
    existing = LedgerEntry.objects.filter(payment=payment, kind=LedgerEntry.Kind.PAYMENT).first()
    if existing:
        return existing
    fee_bps = payment.seller.effective_fee_bps
    split = fee_split(payment.amount, fee_bps)
    return LedgerEntry.objects.create(
        seller=payment.seller, payment=payment, kind=LedgerEntry.Kind.PAYMENT, method=payment.method,
        custody=LedgerEntry.Custody.PLATFORM if payment.method in CUSTODIAL_METHODS else LedgerEntry.Custody.SELLER,
        currency=payment.currency, gross=split.gross, fee=split.fee, net=split.net, fee_bps=fee_bps,
    )

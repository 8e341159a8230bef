"""Daily settlement: move custodial money to sellers, accrue fees from non-custodial ones.

- Razorpay: one Route transfer per completed payment, of that payment's unsettled
  net (its ledger rows: payment net minus refunds so far), to the seller's linked
  account. A refund after the transfer reverses that much of it.
- CoinPay: one payout per seller and currency of the unsettled net balance.
- Nano (the seller already holds the money): the platform fee becomes a receivable.

Each Settlement row is created under a lock before the provider is called, with one
SettlementItem per ledger entry it covers. The ledger row itself is never touched (it is
append-only), and an entry has at most one live item (a partial unique index), so a
second run (or two at once) never pays the same money twice. Status then moves by
webhook (transfer.processed|failed, payout.completed|failed) via settlement_mark; a
failed settlement releases its items, so its entries are owed again. A provider that
is down leaves the row pending; the next run reconciles it before sending anything again.
"""
from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from payments import notices
from payments.models import LedgerEntry, Payment, Settlement, SettlementItem
from payments.providers.errors import ProviderError, ProviderRejected
from payments.providers.registry import get_provider
from sellers.models import PayoutDestination

log = logging.getLogger("kassa.settlement")

ACTIVE = (Settlement.Status.PENDING, Settlement.Status.IN_FLIGHT)


def _destinations(method: str) -> dict[int, str]:
    return dict(PayoutDestination.objects.filter(method=method).values_list("seller_id", "value"))


def _unsettled(method: str):
    return LedgerEntry.objects.filter(method=method).unsettled()


def _link(entry_ids: list[int], settlement: Settlement) -> None:
    """Cover these entries with the settlement. Raises IntegrityError when a concurrent run
    covered one of them first (the live-item unique index is the arbiter): the caller's
    transaction then rolls back, settlement row included."""
    SettlementItem.objects.bulk_create([SettlementItem(settlement=settlement, entry_id=pk) for pk in entry_ids])


def _release(settlement: Settlement) -> None:
    """A failed settlement lets its entries go: owed again, and what it covered stays on record."""
    settlement.items.live().update(released_at=timezone.now())


def _covered_elsewhere(exc: IntegrityError, **context) -> None:
    # A row lock taken on an entry does not change it, so a run that read the unsettled set
    # just before another committed can try to cover the same entry; the index refuses it.
    log.info("entries already covered by a concurrent settlement run",
             extra={**context, "error": str(exc)[:200]})


# --- Razorpay Route transfers ----------------------------------------------------------

def _transfer_claim(payment_id, destination: str) -> Settlement | None:
    """Create the pending transfer row for one payment, once. Locks the payment (skip_locked)."""
    try:
        with transaction.atomic():
            payment = Payment.objects.select_for_update(skip_locked=True).filter(pk=payment_id).first()
            if payment is None or payment.settlements.filter(kind=Settlement.Kind.TRANSFER, amount__gt=0,
                                                             status__in=[*ACTIVE, Settlement.Status.PAID]).exists():
                return None
            entries = list(payment.ledger_entries.unsettled().values_list("pk", "net"))
            amount = sum(net for _, net in entries)
            if amount <= 0:
                return None
            settlement = Settlement.objects.create(seller_id=payment.seller_id, method="razorpay",
                                                   kind=Settlement.Kind.TRANSFER, currency=payment.currency,
                                                   amount=amount, destination=destination, payment=payment)
            _link([pk for pk, _ in entries], settlement)
    except IntegrityError as exc:
        _covered_elsewhere(exc, payment=payment_id)
        return None
    return settlement


def _transfer_send(settlement: Settlement) -> None:
    provider = get_provider("razorpay")
    payment = settlement.payment
    try:
        # A pending row may already exist at Razorpay if our last call timed out: look first. A look-up it
        # refuses (4xx: no such payment) is a "no" like a refused transfer, not a reason to stay pending.
        existing = next((t for t in provider.transfers_of_payment(payment.tx_id)
                         if (t.get("notes") or {}).get("kassa_settlement_id") == str(settlement.pk)), None)
        transfer = existing or provider.transfer_create(
            razorpay_payment_id=payment.tx_id, account=settlement.destination, amount=settlement.amount,
            currency=settlement.currency, settlement_id=str(settlement.pk))
    except ProviderRejected as exc:
        settlement_mark(method="razorpay", settlement_id=str(settlement.pk), status="failed",
                        failure_reason=exc.provider_message or str(exc))
        return
    status = Settlement.Status.PAID if transfer.get("status") == "processed" else Settlement.Status.IN_FLIGHT
    Settlement.objects.filter(pk=settlement.pk, status__in=ACTIVE).update(
        provider_ref=str(transfer.get("id") or ""), status=status,
        completed_at=timezone.now() if status == Settlement.Status.PAID else None)


def _reverse_refunded_transfers() -> int:
    """Refund rows that arrived after their payment's transfer: reverse that much of it."""
    provider, count = get_provider("razorpay"), 0
    # Reversals whose call failed in transit first: resent under the same key (their own row id).
    in_doubt = Settlement.objects.filter(method="razorpay", kind=Settlement.Kind.TRANSFER, amount__lt=0,
                                         status=Settlement.Status.PENDING, provider_ref="")
    for pending in in_doubt.select_related("payment"):
        count += _reversal_send(provider, pending)
    for entry in _unsettled("razorpay").filter(kind=LedgerEntry.Kind.REFUND).select_related("payment"):
        transfer = _transfer_of(entry.payment)
        if transfer is None:
            continue  # not transferred yet: the transfer will net this refund off
        reversal = _reversal_claim(entry, transfer)
        if reversal is not None:
            count += _reversal_send(provider, reversal)
    return count


def _reversal_claim(entry: LedgerEntry, transfer: Settlement) -> Settlement | None:
    """Create the pending reversal row for one refund entry, once. Locks the entry (skip_locked)."""
    try:
        with transaction.atomic():
            locked = LedgerEntry.objects.select_for_update(skip_locked=True).unsettled().filter(pk=entry.pk).first()
            if locked is None:
                return None
            reversed_so_far = -(entry.payment.settlements.filter(
                kind=Settlement.Kind.TRANSFER, amount__lt=0).exclude(status=Settlement.Status.FAILED)
                .aggregate(total=Sum("amount"))["total"] or 0)
            # Razorpay reverses at most what was transferred; the platform kept its fee, so a
            # full refund leaves the seller owing that fee: recorded as an adjustment row.
            amount = min(-entry.net, transfer.amount - reversed_so_far)
            if amount <= 0:
                return None
            reversal = Settlement.objects.create(seller_id=entry.seller_id, method="razorpay",
                                                 kind=Settlement.Kind.TRANSFER, currency=entry.currency,
                                                 amount=-amount, payment=entry.payment,
                                                 destination=transfer.destination, status=Settlement.Status.PENDING)
            _link([entry.pk], reversal)
            if amount < -entry.net:
                uncovered = -entry.net - amount
                LedgerEntry.objects.create(
                    seller_id=entry.seller_id, payment=entry.payment, kind=LedgerEntry.Kind.ADJUSTMENT,
                    custody=entry.custody, method=entry.method, currency=entry.currency, gross=-uncovered, fee=0,
                    net=-uncovered, fee_bps=entry.fee_bps,
                    memo=f"refund beyond the transferred amount: seller owes ({_REVERSAL_TAG}{reversal.pk})")
    except IntegrityError as exc:
        _covered_elsewhere(exc, entry=entry.pk)
        return None
    return reversal


_REVERSAL_TAG = "reversal "


def _transfer_of(payment: Payment) -> Settlement | None:
    return payment.settlements.filter(kind=Settlement.Kind.TRANSFER, amount__gt=0).exclude(
        provider_ref="").exclude(status=Settlement.Status.FAILED).first()


def _reversal_send(provider, reversal: Settlement) -> int:
    """Send one pending reversal, keyed by its row id. Returns 1 when Razorpay made it.

    In doubt (timeout, 5xx, 429) it stays pending and is resent with the same key next run;
    only a refusal fails it (_reversal_failed)."""
    transfer = _transfer_of(reversal.payment)
    try:
        answer = provider.transfer_reverse(transfer_id=transfer.provider_ref, amount=-reversal.amount,
                                           settlement_id=str(reversal.pk))
    except ProviderRejected as exc:
        _reversal_failed(reversal, exc.provider_message or str(exc))
        return 0
    except ProviderError as exc:
        log.warning("transfer reversal in doubt", extra={"settlement": reversal.pk, "error": exc.__class__.__name__})
        return 0
    return Settlement.objects.filter(pk=reversal.pk, status=Settlement.Status.PENDING).update(
        status=Settlement.Status.REVERSED, provider_ref=str(answer.get("id") or ""), completed_at=timezone.now())


def _reversal_failed(reversal: Settlement, reason: str) -> None:
    """Razorpay refused the reversal. The ledger is append-only: its refund entry is owed again
    (the next run tries a new reversal) and the adjustment written with it is cancelled by a
    compensating entry, not deleted."""
    with transaction.atomic():
        locked = Settlement.objects.select_for_update().filter(pk=reversal.pk,
                                                               status=Settlement.Status.PENDING).first()
        if locked is None:
            return
        locked.status, locked.failure_reason = Settlement.Status.FAILED, reason[:300]
        locked.save(update_fields=["status", "failure_reason"])
        _release(locked)
        for adjustment in LedgerEntry.objects.filter(payment_id=locked.payment_id, kind=LedgerEntry.Kind.ADJUSTMENT,
                                                     memo__endswith=f"({_REVERSAL_TAG}{locked.pk})"):
            LedgerEntry.objects.create(
                seller_id=adjustment.seller_id, payment_id=adjustment.payment_id, kind=LedgerEntry.Kind.ADJUSTMENT,
                custody=adjustment.custody, method=adjustment.method, currency=adjustment.currency,
                gross=-adjustment.gross, fee=-adjustment.fee, net=-adjustment.net, fee_bps=adjustment.fee_bps,
                memo=f"cancels entry {adjustment.pk}: transfer reversal {locked.pk} failed")
    log.warning("transfer reversal refused", extra={"settlement": reversal.pk, "reason": reason[:200]})


def settle_razorpay() -> dict:
    destinations = _destinations("razorpay")
    payment_ids = set(_unsettled("razorpay").filter(kind=LedgerEntry.Kind.PAYMENT, seller_id__in=destinations)
                      .values_list("payment_id", flat=True))
    created = skipped = 0
    attempted: set[int] = set()
    for payment_id in payment_ids:
        payment = Payment.objects.only("seller_id").get(pk=payment_id)
        settlement = _transfer_claim(payment_id, destinations[payment.seller_id])
        if settlement is None:
            skipped += 1
            continue
        attempted.add(settlement.pk)
        try:
            _transfer_send(settlement)
        except ProviderError as exc:  # unavailable: stays pending, reconciled next run
            log.warning("transfer deferred", extra={"settlement": settlement.pk, "error": exc.__class__.__name__})
        created += 1
    retried = 0
    for pending in Settlement.objects.filter(method="razorpay", kind=Settlement.Kind.TRANSFER, provider_ref="",
                                             status=Settlement.Status.PENDING, amount__gt=0
                                             ).exclude(pk__in=attempted).select_related("payment"):
        try:
            _transfer_send(pending)
            retried += 1
        except ProviderError:
            continue
    return {"transfers": created, "skipped": skipped, "retried": retried, "reversals": _reverse_refunded_transfers()}


# --- CoinPay payouts ---------------------------------------------------------------------

def _payout_claim(seller_id: int, currency: str, wallet: str) -> Settlement | None:
    try:
        with transaction.atomic():
            entries = list(_unsettled("coinpay").select_for_update(skip_locked=True)
                           .filter(seller_id=seller_id, currency=currency).values_list("pk", "net"))
            amount = sum(net for _, net in entries)
            if amount <= 0:
                return None  # nothing owed (or the seller owes us after refunds)
            settlement = Settlement.objects.create(seller_id=seller_id, method="coinpay",
                                                   kind=Settlement.Kind.PAYOUT, currency=currency, amount=amount,
                                                   destination=wallet)
            _link([pk for pk, _ in entries], settlement)
    except IntegrityError as exc:
        _covered_elsewhere(exc, seller=seller_id, currency=currency)
        return None
    return settlement


def _payout_send(settlement: Settlement) -> None:
    """Look the payout up at CoinPay by our settlement id first (a call that timed out may
    have paid it), and send it, keyed by that id, only when CoinPay has none. Never two
    payouts for one settlement. Raises ProviderError when CoinPay cannot be reached."""
    provider = get_provider("coinpay")
    try:
        answer = provider.payout_lookup(settlement_id=str(settlement.pk)) or provider.payout_create(
            wallet=settlement.destination, amount=settlement.amount, currency=settlement.currency,
            settlement_id=str(settlement.pk))
    except ProviderRejected as exc:
        settlement_mark(method="coinpay", settlement_id=str(settlement.pk), status="failed",
                        failure_reason=exc.provider_message or str(exc))
        return
    provider_ref = str(answer.get("id") or answer.get("payoutId") or "")
    status = str(answer.get("status") or "").lower()
    if status in ("completed", "failed"):
        settlement_mark(method="coinpay", settlement_id=str(settlement.pk), provider_ref=provider_ref,
                        status="paid" if status == "completed" else "failed",
                        failure_reason=str(answer.get("error") or ""))
        return
    Settlement.objects.filter(pk=settlement.pk, status__in=ACTIVE).update(
        provider_ref=provider_ref, status=Settlement.Status.IN_FLIGHT)


def settle_coinpay() -> dict:
    retried = 0
    # Payouts whose call failed in transit first: reconciled at CoinPay before anything is resent.
    for pending in Settlement.objects.filter(method="coinpay", kind=Settlement.Kind.PAYOUT, provider_ref="",
                                             status=Settlement.Status.PENDING):
        try:
            _payout_send(pending)
            retried += 1
        except ProviderError as exc:
            log.warning("payout still in doubt", extra={"settlement": pending.pk, "error": exc.__class__.__name__})
    destinations = _destinations("coinpay")
    groups = set(_unsettled("coinpay").filter(seller_id__in=destinations).values_list("seller_id", "currency"))
    created = 0
    for seller_id, currency in groups:
        settlement = _payout_claim(seller_id, currency, destinations[seller_id])
        if settlement is None:
            continue
        created += 1
        try:
            _payout_send(settlement)
        except ProviderError as exc:
            # Unknown outcome: stays pending, looked up by its settlement id on the next run.
            log.warning("payout deferred", extra={"settlement": settlement.pk, "error": exc.__class__.__name__})
    return {"payouts": created, "retried": retried}


# --- Nano fee receivables ----------------------------------------------------------------

def accrue_nano_fees() -> dict:
    groups = set(_unsettled("nano").values_list("seller_id", "currency"))
    accrued = 0
    for seller_id, currency in groups:
        try:
            with transaction.atomic():
                entries = list(_unsettled("nano").select_for_update(skip_locked=True)
                               .filter(seller_id=seller_id, currency=currency).values_list("pk", "fee"))
                fee = sum(value for _, value in entries)
                if not entries:
                    continue
                settlement = Settlement.objects.create(seller_id=seller_id, method="nano",
                                                       kind=Settlement.Kind.FEE_RECEIVABLE, currency=currency,
                                                       amount=fee, status=Settlement.Status.PENDING)
                _link([pk for pk, _ in entries], settlement)
        except IntegrityError as exc:
            _covered_elsewhere(exc, seller=seller_id, currency=currency)
            continue
        accrued += 1
    return {"fee_receivables": accrued}


def settle_all() -> dict:
    """The daily beat task. Idempotent and safe to run twice at once."""
    summary = {}
    for name, step in (("razorpay", settle_razorpay), ("coinpay", settle_coinpay), ("nano", accrue_nano_fees)):
        try:
            summary[name] = step()
        except ProviderError as exc:
            log.warning("settlement step skipped", extra={"method": name, "error": exc.__class__.__name__})
            summary[name] = {"error": exc.__class__.__name__}
    log.info("settlement run", extra={"summary": summary})
    return summary


# --- status from webhooks ----------------------------------------------------------------

def settlement_mark(*, method: str, status: str, provider_ref: str = "", settlement_id: str = "",
                    failure_reason: str = "") -> bool:
    """Move a transfer/payout to paid or failed (webhook or a refused call). Idempotent.

    Returns False when no such settlement is recorded (yet). A failed one releases
    its items so the money is owed again and the next run retries it.
    """
    with transaction.atomic():
        query = Settlement.objects.select_for_update().filter(method=method)
        settlement = query.filter(provider_ref=provider_ref).first() if provider_ref else None
        if settlement is None and settlement_id.isdigit():
            settlement = query.filter(pk=int(settlement_id)).first()
        if settlement is None:
            return False
        if status == "reversed" or settlement.status not in ACTIVE:
            return True  # already final; reversals are recorded as their own rows
        if status == "paid":
            settlement.status, settlement.completed_at = Settlement.Status.PAID, timezone.now()
        elif status == "failed":
            settlement.status, settlement.failure_reason = Settlement.Status.FAILED, failure_reason[:300]
            _release(settlement)
            notices.settlement_failed_queue(settlement)
        else:
            return True
        if provider_ref and not settlement.provider_ref:
            settlement.provider_ref = provider_ref
        settlement.save(update_fields=["status", "completed_at", "failure_reason", "provider_ref"])
        log.info("settlement status", extra={"settlement": settlement.pk, "status": settlement.status})
    return True


__all__ = ["settle_all", "settle_razorpay", "settle_coinpay", "accrue_nano_fees", "settlement_mark"]

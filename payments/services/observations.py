"""Facts become transitions: observation_apply is the one place a provider's observation changes a payment."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from config.inserts import insert_unless_conflict
from orders.actors import Actor
from orders.models import Order
from orders.services import order_transition
from payments import notices
from payments.models import Payment, Receipt
from payments.money import due_in_wire_units, wire_per_minor
from payments.providers.base import Observation
from payments.representations import order_data, payment_data
from payments.services.ledger import ledger_record_payment
from payments.services.start import PROVIDER_PAY_CURRENCY
from payments.services.transitions import (
    _after_commit_event,
    _flag,
    _lock,
    _release_fields,
    _save_fields,
    _transition,
    log,
    payment_event_write,
)
from webhooks.services import webhook_events_emit_many


@dataclass(frozen=True)
class ApplyResult:
    receipt: Receipt
    payment: Payment | None
    changed: bool        # False: this fact was already applied (or adds nothing new)


_STATE_RANK = {Receipt.State.SEEN: 1, Receipt.State.CONFIRMED: 2, Receipt.State.FAILED: 2}


def _match_payment(obs: Observation) -> Payment | None:
    if obs.payment_ref:
        payment = Payment.objects.filter(pk=obs.payment_ref, method=obs.provider).first() \
            if _looks_like_uuid(obs.payment_ref) else None
        if payment:
            return payment
    if obs.provider_ref:
        payment = Payment.objects.filter(method=obs.provider, provider_ref=obs.provider_ref).first()
        if payment:
            return payment
    if obs.pay_to and obs.amount:
        return _match_by_evidence(obs)
    return None


def _match_by_evidence(obs: Observation) -> Payment | None:
    """Address-matched money (Nano) goes to a payment only on evidence that points at it:

    1. its exact reserved (address, amount), unless that payment already took money from
       another account (then the amount alone no longer points at it);
    2. a top-up: any amount from an account that already paid into exactly one payment on
       the address (an expired one still reserved takes it as paid_late).

    Anything else (the bare price, a stranger's partial, an ambiguous top-up) is an
    unmatched receipt for staff.
    """
    reserved = Payment.objects.filter(pay_to=obs.pay_to, method=obs.provider, amount_reserved=True)
    per_minor = wire_per_minor(PROVIDER_PAY_CURRENCY.get(obs.provider, ""))
    source = obs.source_account
    if obs.amount % per_minor == 0:
        # One query: the slot's payment, and whether another account already paid into it.
        others = Receipt.objects.filter(payment=OuterRef("pk")).exclude(state=Receipt.State.FAILED).exclude(
            source_account=source)
        exact = reserved.filter(amount_due=obs.amount // per_minor).annotate(paid_by_other=Exists(others)).first()
        if exact is not None and not exact.paid_by_other:
            return exact
    if not source:
        return None
    earlier = (Receipt.objects.filter(provider=obs.provider, pay_to=obs.pay_to, source_account=source)
               .exclude(state=Receipt.State.FAILED).exclude(payment=None).values("payment_id"))
    paid_into = list(reserved.filter(pk__in=earlier)[:10])
    if len(paid_into) > 1:  # a repeat shopper: only the one still open is unambiguous
        paid_into = [p for p in paid_into if p.status in Payment.ACTIVE_STATUSES]
    return paid_into[0] if len(paid_into) == 1 else None


def _looks_like_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def observation_apply(*, observation: Observation, actor: Actor | None = None) -> ApplyResult:
    """Turn one provider fact into at most one change. The only place that does.

    Idempotent by (provider, external_tx_id): the Receipt row is unique on it and only
    moves forward (seen → confirmed, or failed), so the same fact from webhook, poll
    and shopper verify changes state once. Locks the receipt, then the payment.
    """
    obs = observation
    actor = actor or Actor.provider(obs.provider)
    new_state = (Receipt.State.FAILED if obs.failed
                 else Receipt.State.CONFIRMED if obs.confirmed else Receipt.State.SEEN)
    with transaction.atomic():
        existing = Receipt.objects.select_for_update().filter(provider=obs.provider,
                                                              external_tx_id=obs.external_tx_id)
        receipt, created = existing.first(), False
        if receipt is None:
            receipt = _receipt_insert(obs, new_state)
            created = receipt is not None
            if receipt is None:  # a concurrent twin inserted it first (and has committed)
                receipt = existing.get()
        if not created:
            if _STATE_RANK[new_state] <= _STATE_RANK[receipt.state] or receipt.state == Receipt.State.FAILED:
                return ApplyResult(receipt, receipt.payment, changed=False)
            receipt.state = new_state
            receipt.amount = str(obs.amount or receipt.amount)
            receipt.data = {**receipt.data, **dict(obs.raw)}
            receipt.save(update_fields=["state", "amount", "data", "updated_at"])
        if receipt.payment_id is None:
            matched = None if created else _match_payment(obs)  # a new receipt was matched on insert
            if matched is None:
                log.warning("unmatched receipt", extra={"provider": obs.provider, "tx": obs.external_tx_id})
                if receipt.state == Receipt.State.CONFIRMED:
                    notices.unmatched_receipt_queue(receipt)
                return ApplyResult(receipt, None, changed=True)
            receipt.payment = matched
            receipt.resolution = Receipt.Resolution.MATCHED
            receipt.save(update_fields=["payment", "resolution", "updated_at"])
        payment = _lock(receipt.payment_id)
        _apply_to_payment(payment, receipt, obs, actor)
    return ApplyResult(receipt, payment, changed=True)


def _receipt_insert(obs: Observation, state: str) -> Receipt | None:
    """A new receipt, matched to its payment in the same INSERT; None when a concurrent
    twin inserted the same (provider, external_tx_id) first."""
    matched = _match_payment(obs)
    receipt = Receipt(provider=obs.provider, external_tx_id=obs.external_tx_id, amount=str(obs.amount),
                      pay_to=obs.pay_to, state=state, source_account=obs.source_account, data=dict(obs.raw),
                      payment=matched, resolution=Receipt.Resolution.MATCHED if matched else Receipt.Resolution.NONE)
    # ON CONFLICT DO NOTHING: a twin's insert never aborts the transaction.
    return receipt if insert_unless_conflict(receipt) else None


def _received_totals(payment: Payment) -> tuple[int, int]:
    """(confirmed, seen-or-confirmed) wire amounts over this payment's receipts."""
    confirmed = seen = 0
    for state, amount in payment.receipts.exclude(state=Receipt.State.FAILED).values_list("state", "amount"):
        seen += int(amount)
        if state == Receipt.State.CONFIRMED:
            confirmed += int(amount)
    return confirmed, seen


def _apply_to_payment(payment: Payment, receipt: Receipt, obs: Observation, actor: Actor) -> None:
    """Requires: payment and its order locked by the caller (_lock).

    Field changes ride along with the status UPDATE where there is one (one write per payment)."""
    now = timezone.now()
    data = {"tx": obs.external_tx_id, "amount": str(obs.amount)}
    if obs.failed and obs.retryable:
        # One attempt failed and the gateway takes another: record it on the timeline and keep
        # the payment as it is (pending until a later attempt pays or it expires).
        payment_event_write(payment=payment, type="payment.attempt_failed", actor=actor,
                            data={**data, "reason": obs.failure_reason[:200]})
        return
    if obs.failed:
        if _transition(payment, "failed", actor=actor, data={**data, "reason": obs.failure_reason[:200]},
                       fields=_release_fields(payment, now)):
            _after_commit_event(payment, "payment.failed")
        return
    confirmed, seen = _received_totals(payment)
    received = {"amount_received": str(seen)} if str(seen) != payment.amount_received else {}
    due = due_in_wire_units(payment.amount_due, payment.pay_currency)
    if payment.status in Payment.ACTIVE_STATUSES:
        if confirmed >= due:
            _complete(payment, actor=actor, tx_id=obs.external_tx_id, overpaid=confirmed > due, data=data,
                      fields=received)
        elif seen >= due:
            if not _transition(payment, "confirming", actor=actor, data=data,
                               fields={"confirmed_at": now, **received}):
                _save_fields(payment, received)  # already confirming: more money seen
        else:
            _save_fields(payment, received)
            payment_event_write(payment=payment, type="payment.partially_received", actor=actor,
                                data={**data, "received": str(seen), "due": str(due)})
        return
    _save_fields(payment, received)
    if not obs.confirmed:
        return  # unconfirmed money on a closed payment: wait for confirmation before flagging
    if payment.status in ("expired", "cancelled", "failed"):
        _flag(payment, Payment.Exception_.PAID_LATE, actor=actor, data={**data, "status": payment.status})
        notices.paid_late_queue(payment)
        _after_commit_event(payment, "payment.paid_late")
    else:  # completed or refunded: extra money on a paid payment
        _flag(payment, Payment.Exception_.OVERPAID, actor=actor, data=data)


def _complete(payment: Payment, *, actor: Actor, tx_id: str, overpaid: bool, data: dict,
              fields: dict | None = None) -> None:
    """Requires: payment and its order locked (_lock). Completes it (with `fields` in the same
    UPDATE), marks the order paid (or flags a duplicate), writes the ledger entry, and
    queues seller webhooks after commit."""
    now = timezone.now()
    fields = {**(fields or {}), **_release_fields(payment, now, money_seen=True)}  # completed: money was seen
    if not _transition(payment, "completed", actor=actor, data=data,
                       fields={"completed_at": now, "tx_id": tx_id, "confirmed_at": payment.confirmed_at or now,
                               **fields}):
        _save_fields(payment, fields)
    if overpaid:
        _flag(payment, Payment.Exception_.OVERPAID, actor=actor, data=data)
    ledger_record_payment(payment=payment)
    # The order row was read FOR UPDATE with the payment (_lock): no second read.
    order = order_transition(order_id=payment.order_id, to_status="paid", actor=actor,
                             data={"payment": str(payment.pk)}, paid_at=now, locked=payment.order)
    if order is None and payment.order.status in Order.PAID_STATUSES:
        _flag(payment, Payment.Exception_.DUPLICATE, actor=actor, data={"order_status": payment.order.status})
    events = [(payment.seller_id, "payment.completed", payment_data(payment))]
    if order is not None:
        events.append((payment.seller_id, "order.paid", order_data(order)))
        notices.receipt_queue(payment, order)
        notices.order_paid_queue(payment, order)
    webhook_events_emit_many(events)  # one endpoint query for both

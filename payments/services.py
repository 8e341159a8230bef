"""Every payment state change. Views, tasks, admin actions and the API call these.

Rules (docs/architecture.md): each function runs in transaction.atomic(), guards the row with
select_for_update() (or a conditional UPDATE), writes a PaymentEvent in the same
transaction, and sends notifications only after commit.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from config.inserts import insert_unless_conflict
from orders.actors import Actor
from orders.models import Order
from orders.services import OrderError, order_event_write, order_transition, orders_expire, timeline_events_insert
from payments.models import LedgerEntry, Payment, PaymentEvent, Receipt, Refund, RefundRequest
from payments.money import due_in_wire_units, fee_split, wire_per_minor
from payments.providers.base import Observation
from payments.providers.errors import (
    NoFreeAmountSlot,
    PaymentError,
    ProviderError,
    ProviderNotConfigured,
    ProviderRejected,
)
from payments.providers.nano import refund_raw as nano_refund_raw
from payments.providers.registry import get_provider
from payments.representations import order_data, payment_data, refund_data
from payments.selectors import active_payment, order_locked_for_payment, payment_source_account, reserved_amounts
from payments.states import payment_can_transition, refund_can_transition
from sellers.models import Seller
from sellers.selectors import sellers_wanting_event
from sellers.services import webhook_event_emit, webhook_events_emit_many

log = logging.getLogger("kassa.payments")

# Unique-amount slots per (address, base amount): due = base + k µXNO, 1 <= k <= this.
MAX_AMOUNT_SLOTS = 1000
CUSTODIAL_METHODS = ("razorpay", "coinpay")
NANO = "nano"
# Address-matched methods price in a fixed pay currency (gateways match by their own ids).
PROVIDER_PAY_CURRENCY = {"nano": "XNO"}


class PaymentStateError(PaymentError):
    """The requested change is not allowed from the payment's current status (HTTP 409)."""

    code = "invalid_state"
    http_status = 409

    def __init__(self, message: str, **kwargs):
        # These messages are written for people: show them as they are.
        super().__init__(message, user_message=message, **kwargs)


# --- events and the guarded transition ---------------------------------------------

def payment_event_write(*, payment: Payment, type: str, actor: Actor, data: dict | None = None,
                        from_status: str = "", to_status: str = "") -> PaymentEvent:
    event = PaymentEvent(payment=payment, type=type, from_status=from_status, to_status=to_status,
                         data={**actor.describe(), **(data or {})}, **actor.event_fields())
    event.save(force_insert=True)
    return event


def _locking():
    """Payments FOR NO KEY UPDATE with their order; `of` keeps the seller row unlocked
    (select_related would lock it too and serialize all of a seller's payments)."""
    return Payment.objects.select_for_update(of=("self", "order"), no_key=True).select_related("order", "seller")


def _lock(payment_id) -> Payment:
    return _locking().get(pk=payment_id)


def _transition(payment: Payment, to_status: str, *, actor: Actor, event_type: str | None = None,
                data: dict | None = None, fields: dict | None = None) -> bool:
    """Apply one table-checked transition to a payment the caller has locked.

    Requires: the caller holds the row lock (select_for_update) inside transaction.atomic().
    Returns False, changing nothing, when the table does not allow it.
    """
    if not payment_can_transition(payment.status, to_status):
        return False
    from_status = payment.status
    payment.status = to_status
    for name, value in (fields or {}).items():
        setattr(payment, name, value)
    payment.save(update_fields=["status", "updated_at", *(fields or {})])
    payment_event_write(payment=payment, type=event_type or f"payment.{to_status}", actor=actor,
                        from_status=from_status, to_status=to_status, data=data)
    return True


def payment_transition(*, payment_id, to_status: str, actor: Actor, event_type: str | None = None,
                       data: dict | None = None, **fields) -> Payment | None:
    """Lock the payment and move it to `to_status`; None if the table refuses."""
    with transaction.atomic():
        payment = _lock(payment_id)
        return payment if _transition(payment, to_status, actor=actor, event_type=event_type,
                                      data=data, fields=fields) else None


def _flag(payment: Payment, code: str, *, actor: Actor, data: dict | None = None, review: bool = True) -> None:
    """Add an exception code (once) and open a review; the caller holds the lock."""
    if code not in payment.exceptions:
        payment.exceptions = [*payment.exceptions, code]
    fields = ["exceptions", "updated_at"]
    if review:
        payment.review_status = Payment.Review.OPEN
        fields.append("review_status")
    payment.save(update_fields=fields)
    payment_event_write(payment=payment, type=f"payment.exception.{code}", actor=actor, data=data)


# --- start --------------------------------------------------------------------------

@dataclass(frozen=True)
class Quote:
    """What a method charges for an order: pay_currency minor units, and where to."""

    pay_currency: str
    amount_due: int
    pay_to: str = ""
    rate: object = None
    rate_source: str = ""
    unique_amount: bool = False


def check_method_available(*, order: Order, method: str) -> None:
    seller = order.seller
    if not seller.is_accepting_payments:
        raise PaymentStateError(f"{seller.name} is not accepting payments right now.")
    if method not in seller.enabled_methods:
        message = f"{seller.name} does not accept this payment method."
        raise ProviderNotConfigured(message, user_message=message)
    if not get_provider(method).is_available(seller, order):
        message = f"{seller.name} has not finished setting up this payment method."
        raise ProviderNotConfigured(message, user_message=message)


def _insert_with_unique_amount(order: Order, method: str, quote: Quote, actor: Actor,
                               local_start=None) -> Payment:
    """Insert the payment at the smallest free slot base + k; retry the next k on a clash.

    The partial unique index on (pay_to, amount_due) WHERE amount_reserved is the
    arbiter: two concurrent checkouts may pick the same k, and the loser retries.
    `local_start(payment)`: a provider start() without I/O, whose instructions go into the INSERT.
    """
    now = timezone.now()
    expires_at = now + timedelta(minutes=settings.PAYMENT_EXPIRY_MINUTES)
    base = quote.amount_due
    # k = 0 (the bare price) is never a unique amount: it is what a careless shopper sends.
    slots = range(1, MAX_AMOUNT_SLOTS + 1) if quote.unique_amount else range(1)
    taken: set[int] = set()  # the first try goes straight for the first slot: it is usually free
    for attempt in range(50):
        if attempt and quote.unique_amount:
            taken = reserved_amounts(quote.pay_to, base + slots[0], base + slots[-1] + 1)
        free = next((base + k for k in slots if base + k not in taken), None)
        if free is None:
            message = "Too many payments are waiting on this address at this price; please try again in a few minutes."
            raise NoFreeAmountSlot(message, user_message=message)
        payment = Payment(
            order=order, seller=order.seller, method=method, currency=order.currency, amount=order.amount,
            pay_currency=quote.pay_currency, amount_due=free, pay_to=quote.pay_to, rate=quote.rate,
            rate_source=quote.rate_source, amount_reserved=quote.unique_amount,
            reserved_until=expires_at + timedelta(hours=settings.PAYMENT_MONITORING_HOURS)
            if quote.unique_amount else None,
            expires_at=expires_at,
        )
        if local_start is not None:
            for name, value in _instruction_fields(payment, local_start(payment)).items():
                setattr(payment, name, value)
        # ON CONFLICT DO NOTHING: a slot taken between our read and insert costs no savepoint.
        if not quote.unique_amount:
            payment.save(force_insert=True)
            return payment
        if insert_unless_conflict(payment):
            return payment
    message = "Could not reserve a unique amount; please try again."
    raise NoFreeAmountSlot(message, user_message=message)


def _payment_insert(order: Order, method: str, provider, actor: Actor) -> tuple[Payment, bool]:
    """The new payment row and its events (the caller holds the order lock); whether the
    provider's start() already ran (local: no I/O)."""
    if order.status == Order.Status.EXPIRED:
        order_transition(order_id=order.pk, to_status="open", actor=actor, event_type="order.reopened", locked=order)
    quote = provider.quote(order.seller, order)
    # A provider whose start() only formats (Nano: a URI) is asked here, so the row is written
    # once; one that calls out (gateways) is asked after commit, outside the order lock.
    local = getattr(provider, "start_is_local", False)
    payment = _insert_with_unique_amount(order, method, quote, actor, provider.start if local else None)
    payment_event_write(payment=payment, type="payment.started", actor=actor, to_status=payment.status,
                        data={"method": method, "amount_due": str(payment.amount_due),
                              "pay_currency": payment.pay_currency})
    order_event_write(order=order, type="order.payment_started", actor=actor,
                      data={"payment": str(payment.pk), "method": method})
    return payment, local


def payment_start(*, order_id, method: str, actor: Actor, seller: Seller | None = None,
                  reuse: bool = True) -> Payment:
    """Start (or reuse) a payment for an order and ask the provider for instructions.

    Refreshing or double-clicking returns the active payment for that method.
    The provider call happens after commit, outside the order lock. With `seller`, an
    order of another seller is Order.DoesNotExist (the API's 404), found by the same read.
    """
    provider = get_provider(method)
    existing = refused = None
    # No savepoint: inside the API's one transaction a failure ends the whole request anyway.
    with transaction.atomic(savepoint=False):
        try:  # refusals come before any write and leave the block cleanly: a caller's transaction goes on
            order = order_locked_for_payment(order_id, seller)
            if order.is_paid:
                raise PaymentStateError("This order is already paid.")
            if order.status == Order.Status.CANCELLED:
                raise PaymentStateError("This order was cancelled.")
            existing = active_payment(order, method, timezone.now()) if reuse else None
            if existing is None:
                check_method_available(order=order, method=method)
        except (Order.DoesNotExist, PaymentError) as exc:
            refused = exc
        if refused is None and existing is None:
            payment, local = _payment_insert(order, method, provider, actor)
    if refused is not None:
        raise refused
    if existing is not None:
        return existing
    if local:
        return payment
    try:
        instructions = provider.start(payment)
    except ProviderError as exc:
        log.warning("payment start failed", extra={"payment": str(payment.pk), "method": method,
                                                   "error": exc.__class__.__name__})
        failed = payment_transition(payment_id=payment.pk, to_status="failed", actor=Actor.system("start"),
                                    data={"reason": "provider_error", "message": exc.user_message})
        if failed is not None:
            _after_commit_event(failed, "payment.failed")
        raise
    return payment_attach_instructions(payment=payment, instructions=instructions)


def _instruction_fields(payment: Payment, instructions) -> dict:
    return {
        "pay_to": instructions.pay_to or payment.pay_to,
        "payment_uri": instructions.payment_uri,
        "provider_ref": instructions.provider_ref,
        "checkout_params": instructions.checkout_params,
    }


def payment_attach_instructions(*, payment: Payment, instructions) -> Payment:
    fields = _instruction_fields(payment, instructions)
    changed = {k: v for k, v in fields.items() if getattr(payment, k) != v}
    if changed:
        Payment.objects.filter(pk=payment.pk).update(**changed, updated_at=timezone.now())
        for name, value in changed.items():
            setattr(payment, name, value)
    return payment


# --- facts → transitions -------------------------------------------------------------

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
    import uuid

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


def _save_fields(payment: Payment, fields: dict) -> None:
    for name, value in fields.items():
        setattr(payment, name, value)
    if fields:
        payment.save(update_fields=[*fields, "updated_at"])


def _release_fields(payment: Payment, now, *, money_seen: bool = False) -> dict:
    """Keep the amount reserved through the monitoring window so late money still matches
    (a payment that saw no money only for the shorter slot release window)."""
    if not payment.amount_reserved:
        return {}
    return {"reserved_until": _reserved_until(now, money_seen=money_seen or bool(payment.amount_received_int))}


def _reserved_until(now, *, money_seen: bool):
    window = timedelta(hours=settings.PAYMENT_MONITORING_HOURS)
    if not money_seen:  # an abandoned checkout must not hold its slot for a whole day
        window = min(window, timedelta(seconds=settings.NANO_SLOT_RELEASE_AFTER))
    return now + window


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
    webhook_events_emit_many(events)  # one endpoint query for both


def _release_later(payment: Payment, now) -> None:
    _save_fields(payment, _release_fields(payment, now))


def _after_commit_event(payment: Payment, event_type: str) -> None:
    webhook_event_emit(seller_id=payment.seller_id, event_type=event_type, data=payment_data(payment))


# --- ledger -----------------------------------------------------------------------

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


# --- expiry and reservations (beat) -------------------------------------------------

def payment_expire_stale(*, now=None, batch_size: int = 1000) -> int:
    """Expire pending payments past expires_at + grace, set-based, in claimed batches.

    Each payment is claimed together with its order row (skip_locked on both), so two
    ticks at once (or a tick racing a completion) never touch the same row, and a payment
    whose order is locked elsewhere stays pending until a later tick can take both: its
    order can never be left open with nothing pending. Confirming payments never expire.
    Orders with no other active payment expire too (orders.services.orders_expire).
    One UPDATE … RETURNING expires a batch; its events and outbox rows are written from
    the returned rows, not from loaded payments.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.PAYMENT_EXPIRY_GRACE_SECONDS)
    system = Actor.system("expiry")
    total = 0
    while True:
        with transaction.atomic():
            claimed = [row.pk for row in
                       Payment.objects.select_for_update(skip_locked=True, of=("self", "order"), no_key=True)
                       .select_related("order").only("pk", "order_id", "order__id")
                       .filter(status=Payment.Status.PENDING, expires_at__lt=cutoff)
                       # Oldest first along (status, expires_at); the default ordering sorts every stale row.
                       .order_by("expires_at")[:batch_size]]
            if not claimed:
                return total
            expired = _expire_pending(claimed, now)
            ids = [pk for pk, _order, _seller, _received in expired]
            timeline_events_insert(event_model=PaymentEvent, subject_ids=ids, type="payment.expired", actor=system,
                                   from_status=Payment.Status.PENDING, to_status=Payment.Status.EXPIRED, at=now)
            underpaid = [pk for pk, _order, _seller, received in expired if received not in ("", "0")]
            for payment in Payment.objects.select_for_update().filter(pk__in=underpaid):
                _flag(payment, Payment.Exception_.UNDERPAID, actor=system, data={"received": payment.amount_received})
            _expire_orders({order_id for _pk, order_id, _seller, _received in expired}, now, system)
            wanted = sellers_wanting_event("payment.expired", {seller for _pk, _order, seller, _received in expired})
            webhook_events_emit_many([
                (payment.seller_id, "payment.expired", payment_data(payment))
                for payment in Payment.objects.filter(pk__in=[pk for pk, _o, seller, _r in expired if seller in wanted])
            ])
            total += len(ids)


def _expire_pending(ids: list, now) -> list[tuple]:
    """UPDATE these payments, if still pending, to expired (keeping an underpaid one's slot
    through the monitoring window); (id, order_id, seller_id, amount_received) of each."""
    meta, quote = Payment._meta, connection.ops.quote_name
    pk = meta.pk
    column = {name: quote(meta.get_field(name).column)
              for name in ("status", "updated_at", "reserved_until", "amount_received", "order", "seller")}
    reserved_until = meta.get_field("reserved_until")
    # Identifiers come from the model's metadata; every value is a bound parameter.
    sql = (f"UPDATE {quote(meta.db_table)} SET {column['status']} = %s, {column['updated_at']} = %s, "  # noqa: S608
           f"{column['reserved_until']} = CASE WHEN {column['amount_received']} IN ('', '0') THEN %s ELSE %s END "
           f"WHERE {quote(pk.column)} IN ({', '.join(['%s'] * len(ids))}) AND {column['status']} = %s "
           f"RETURNING {quote(pk.column)}, {column['order']}, {column['seller']}, {column['amount_received']}")
    params = [Payment.Status.EXPIRED, meta.get_field("updated_at").get_db_prep_save(now, connection),
              reserved_until.get_db_prep_save(_reserved_until(now, money_seen=False), connection),
              reserved_until.get_db_prep_save(_reserved_until(now, money_seen=True), connection),
              *(pk.get_db_prep_value(value, connection) for value in ids), Payment.Status.PENDING]
    order_pk = Order._meta.pk
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(pk.to_python(payment), order_pk.to_python(order), seller, received)
                for payment, order, seller, received in cursor.fetchall()]


def _expire_orders(order_ids: set, now, actor: Actor) -> None:
    """Open orders whose every payment is now inactive become expired (set-based, by
    orders.services, which writes order status).

    Requires: the caller holds these orders' row locks (taken with their payments), so
    none is skipped here.
    """
    still_active = set(Payment.objects.filter(order_id__in=order_ids, status__in=Payment.ACTIVE_STATUSES)
                       .values_list("order_id", flat=True))
    orders_expire(order_ids=order_ids - still_active, actor=actor, now=now)


def payment_release_reservations(*, now=None) -> int:
    """Free (address, amount) slots whose payment is closed and whose window has ended."""
    now = now or timezone.now()
    return Payment.objects.filter(amount_reserved=True, reserved_until__lt=now).exclude(
        status__in=Payment.ACTIVE_STATUSES).update(amount_reserved=False, updated_at=now)


# --- people's actions -----------------------------------------------------------------

def payment_verify(*, payment: Payment, reference: str = "") -> Payment:
    """Check a shopper's "I've paid" with the provider and apply what it reports.

    With a reference (block hash, gateway payment id) the provider verifies it; without
    one it polls just this payment. The claim itself changes nothing: only the
    provider's observations do, through observation_apply (idempotent), so verify,
    poll and webhook racing each other still complete the payment once. A reference
    Kassa already credited to another payment opens a review on both instead.
    Raises ProviderError (VerificationFailed, ProviderUnavailable, …) for the caller to show.
    """
    from payments.providers.errors import VerificationFailed

    claimed = reference.strip()
    # Transaction ids are printable ASCII; anything else is no receipt's (and PostgreSQL refuses NUL in text).
    credited = (Receipt.objects.filter(provider=payment.method, external_tx_id__in={claimed, claimed.upper()})
                .exclude(payment=None).exclude(payment=payment).first()
                if claimed and claimed.isascii() and claimed.isprintable() else None)
    provider = get_provider(payment.method)
    if not credited and not reference and payment.method == "nano":
        # The tick's batched read for this one address (from its stored cursor), not a
        # one-off walk back through the address's whole history.
        from payments.monitor_nano import check_addresses

        check_addresses([payment.pay_to], provider=provider)
        return Payment.objects.select_related("order", "seller").get(pk=payment.pk)
    observations = [] if credited else provider.verify(payment, reference) if reference else provider.poll([payment])
    for observation in observations:
        result = observation_apply(observation=observation)
        if reference and result.receipt.payment_id not in (None, payment.pk):
            credited = result.receipt
    if credited is not None:
        receipt_dispute(receipt=credited, claimant=payment, actor=Actor.shopper("verify"))
        message = ("That transaction was already credited to a different payment. "
                   "We have asked our staff to review both; nothing is lost.")
        raise VerificationFailed("other_payment", message, user_message=message, provider=payment.method)
    return Payment.objects.select_related("order", "seller").get(pk=payment.pk)


ADDRESS_CHECK_SECONDS = 3  # one queued check per address in this window, however many shoppers click


def payment_check_soon(*, payment: Payment) -> bool:
    """Queue one check of this payment with its provider, answered by the worker, not the request.

    Checks of one address are coalesced: any number of "I've paid" clicks on payments to one
    address within ADDRESS_CHECK_SECONDS queue one check (it reads the whole address anyway).
    Returns False when a check for the address was already queued.
    """
    from payments.tasks import verify_payment

    if not cache.add(f"kassa:check:{payment.method}:{payment.pay_to or payment.pk}", 1, ADDRESS_CHECK_SECONDS):
        return False
    transaction.on_commit(lambda: verify_payment.delay(str(payment.pk)))
    return True


def receipt_dispute(*, receipt: Receipt, claimant: Payment, actor: Actor) -> None:
    """A shopper claims money Kassa credited to another payment: both payments get the
    `disputed` exception and an open review, with the receipt as evidence. Locks both
    payments (in id order, so two opposite claims cannot deadlock); a repeat changes nothing."""
    with transaction.atomic():
        ids = sorted({receipt.payment_id, claimant.pk}, key=str)
        locked = {p.pk: p for p in _locking().filter(pk__in=ids).order_by("pk")}
        evidence = {"tx": receipt.external_tx_id, "amount": receipt.amount, "source_account": receipt.source_account,
                    "credited_to": str(receipt.payment_id), "claimed_by": str(claimant.pk)}
        for payment in locked.values():
            if Payment.Exception_.DISPUTED in payment.exceptions and payment.review_status == Payment.Review.OPEN:
                continue
            _flag(payment, Payment.Exception_.DISPUTED, actor=actor, data=evidence)


def payment_cancel(*, payment: Payment, actor: Actor, reason: str = "") -> Payment:
    with transaction.atomic():
        locked = _lock(payment.pk)
        if not _transition(locked, "cancelled", actor=actor, data={"reason": reason[:200]}):
            raise PaymentStateError(f"A {locked.get_status_display().lower()} payment cannot be cancelled.")
        _release_later(locked, timezone.now())
    return locked


def payment_expire_now(*, payment: Payment, actor: Actor) -> Payment:
    """Staff expire one pending payment before its time; an expired one is returned unchanged.

    Like the beat expiry: keeps the amount reserved through the monitoring window,
    flags underpayment, expires the order when nothing else is active, and queues
    the seller webhook after commit. A confirming payment never expires.
    """
    with transaction.atomic():
        locked = _lock(payment.pk)
        if locked.status == Payment.Status.EXPIRED:
            return locked
        now = timezone.now()
        if not _transition(locked, "expired", actor=actor, data={"manual": True}):
            raise PaymentStateError(f"A {locked.get_status_display().lower()} payment cannot be expired.")
        _release_later(locked, now)
        if locked.amount_received not in ("", "0"):
            _flag(locked, Payment.Exception_.UNDERPAID, actor=actor, data={"received": locked.amount_received})
        _expire_orders({locked.order_id}, now, actor)
        _after_commit_event(locked, "payment.expired")
    return locked


def payment_accept_late(*, payment: Payment, actor: Actor) -> Payment:
    """Staff accept money that arrived after expiry/cancellation: → completed, ledger, order paid."""
    with transaction.atomic():
        locked = _lock(payment.pk)
        if Payment.Exception_.PAID_LATE not in locked.exceptions or locked.status not in ("expired", "cancelled"):
            if locked.status in Payment.PAID_STATUSES and locked.review_status == Payment.Review.RESOLVED:
                return locked  # already accepted: a second click changes nothing
            raise PaymentStateError("Only an expired or cancelled payment that was paid late can be accepted.")
        confirmed, _ = _received_totals(locked)
        due = due_in_wire_units(locked.amount_due, locked.pay_currency)
        _complete(locked, actor=actor, tx_id=locked.receipts.values_list("external_tx_id", flat=True).first() or "",
                  overpaid=confirmed > due, data={"accepted_late": True})
        locked.review_status = Payment.Review.RESOLVED
        locked.save(update_fields=["review_status", "updated_at"])
    return locked


def payment_resolve_review(*, payment: Payment, actor: Actor, note: str = "") -> Payment:
    with transaction.atomic():
        locked = _lock(payment.pk)
        if locked.review_status != Payment.Review.OPEN:
            return locked
        locked.review_status = Payment.Review.RESOLVED
        locked.save(update_fields=["review_status", "updated_at"])
        payment_event_write(payment=locked, type="payment.review_resolved", actor=actor, data={"note": note[:500]})
    return locked


def receipt_assign(*, receipt: Receipt, payment: Payment, actor: Actor) -> ApplyResult:
    """Staff attach an unmatched receipt to a payment on the same address, then apply it."""
    with transaction.atomic():
        locked = Receipt.objects.select_for_update().get(pk=receipt.pk)
        if locked.payment_id:
            if locked.payment_id == payment.pk:
                return ApplyResult(locked, payment, changed=False)
            raise PaymentStateError("This receipt is already attached to another payment.")
        if locked.provider != payment.method or (locked.pay_to and locked.pay_to != payment.pay_to):
            raise PaymentStateError("The receipt's address does not match this payment's address.")
        locked.payment = payment
        locked.resolution = Receipt.Resolution.ASSIGNED
        locked.resolved_by = actor.user
        locked.resolved_at = timezone.now()
        locked.save(update_fields=["payment", "resolution", "resolved_by", "resolved_at", "updated_at"])
        target = _lock(payment.pk)
        payment_event_write(payment=target, type="payment.receipt_assigned", actor=actor,
                            data={"receipt": locked.pk, "tx": locked.external_tx_id})
        obs = Observation(provider=locked.provider, external_tx_id=locked.external_tx_id,
                          amount=int(locked.amount), confirmed=locked.state == Receipt.State.CONFIRMED,
                          pay_to=locked.pay_to)
        _apply_to_payment(target, locked, obs, actor)
    return ApplyResult(locked, target, changed=True)


# --- refunds ----------------------------------------------------------------------

def payment_refund(*, payment: Payment, actor: Actor, amount_minor: int | None = None, reason: str = "") -> Refund:
    """Refund all or part of a completed payment through its provider.

    The Refund row is created under the payment lock (so two clicks cannot refund
    more than was paid); the provider is called after commit. Pending refunds count
    against what is left.
    """
    nano = payment.method == NANO
    # Nano is non-custodial: the refund waits for the seller's own send. Where it must go and
    # where the seller's chain stands are read from the node first, outside the lock.
    refundable = payment.status in REFUNDABLE_STATUSES or is_late_refundable(payment)  # rechecked under the lock
    anchor = (get_provider(NANO).refund_anchor(payment, shopper_account=payment_source_account(payment))
              if nano and refundable else None)
    with transaction.atomic():
        locked = _lock(payment.pk)
        late = is_late_refundable(locked)
        if locked.status not in ("completed", "partially_refunded") and not late:
            raise PaymentStateError(f"Only a completed payment can be refunded; this one is {locked.status}.")
        if late and amount_minor not in (None, locked.amount):
            raise PaymentStateError("Money that arrived late is refunded in full.")
        in_flight = sum(locked.refunds.filter(status__in=Refund.OPEN_STATUSES).values_list("amount", flat=True))
        remaining = locked.amount - locked.refunded_amount - in_flight
        amount = remaining if amount_minor is None else amount_minor
        if remaining <= 0:
            raise PaymentStateError("Nothing is left to refund on this payment.")
        if amount <= 0 or amount > remaining:
            raise PaymentStateError(f"A refund must be between 1 and {remaining} (minor units) for this payment.")
        if nano and anchor is None:
            raise PaymentStateError("This payment changed while the refund was being prepared; try again.")
        nano_fields = {} if anchor is None else {
            "status": Refund.Status.AWAITING_SELLER, "send_from": anchor.send_from, "send_to": anchor.send_to,
            "after_height": anchor.after_height, "amount_raw": str(nano_refund_raw(locked, amount)),
        }
        refund = Refund.objects.create(payment=locked, seller_id=locked.seller_id, amount=amount,
                                       reason=reason[:200], **nano_fields, **actor.event_fields())
        payment_event_write(payment=locked, type="refund.requested", actor=actor,
                            data={"refund": str(refund.pk), "amount": amount, **(
                                {"awaiting_seller": True, "amount_raw": refund.amount_raw} if nano else {})})
    if nano:  # the monitor, or a block hash the seller pastes, completes it (refund_nano_send_record)
        return refund
    return _refund_send(refund, locked)


def _refund_send(refund: Refund, payment: Payment) -> Refund:
    """Ask the provider to refund, keyed by our refund id (so a resend can never pay twice),
    and record its answer. Only an explicit refusal (ProviderRejected) fails the refund: after
    a timeout, 5xx or 429 the provider may well have refunded, so the refund stays pending and
    refunds_reconcile_pending asks the provider later (a late webhook may also settle it)."""
    actor = Actor.provider(payment.method)
    try:
        result = get_provider(payment.method).refund(payment, refund.amount, idempotency_key=str(refund.pk))
    except ProviderRejected as exc:
        return refund_mark_failed(refund=refund, actor=actor, reason=exc.user_message)
    except ProviderError as exc:
        log.warning("refund in doubt", extra={"refund": str(refund.pk), "error": exc.__class__.__name__})
        with transaction.atomic():
            payment_event_write(payment=payment, type="refund.processing", actor=actor,
                                data={"refund": str(refund.pk), "error": exc.__class__.__name__})
        return refund
    return _refund_apply_result(refund, result, actor)


def _refund_apply_result(refund: Refund, result, actor: Actor) -> Refund:
    if result.status == "succeeded":
        return refund_mark_succeeded(refund=refund, actor=actor, provider_refund_id=result.provider_refund_id)
    if result.status == "failed":
        return refund_mark_failed(refund=refund, actor=actor, reason=result.failure_reason,
                                  provider_refund_id=result.provider_refund_id)
    if result.provider_refund_id and not refund.provider_refund_id:
        Refund.objects.filter(pk=refund.pk, provider_refund_id="").update(provider_refund_id=result.provider_refund_id)
        refund.provider_refund_id = result.provider_refund_id
    return refund


def refund_reconcile(*, refund_id) -> Refund:
    """Settle one pending gateway refund from the provider's own record of it.

    Found → its status is applied; not found → the call never reached the provider, so it is
    sent again with the same key; provider unreachable → still pending, asked again next tick.
    """
    refund = Refund.objects.select_related("payment", "payment__seller").get(pk=refund_id)
    payment = refund.payment
    if refund.status != Refund.Status.PENDING or payment.method not in CUSTODIAL_METHODS:
        return refund
    try:
        found = get_provider(payment.method).refund_lookup(payment, refund_id=str(refund.pk),
                                                           provider_refund_id=refund.provider_refund_id)
    except ProviderError as exc:
        log.warning("refund lookup failed", extra={"refund": str(refund.pk), "error": exc.__class__.__name__})
        return refund
    if found is None:
        return _refund_send(refund, payment)
    return _refund_apply_result(refund, found, Actor.provider(payment.method))


def refunds_reconcile_pending(*, now=None, limit: int = 100) -> int:
    """The beat task: reconcile gateway refunds pending longer than REFUND_RECONCILE_AFTER_SECONDS
    (younger ones may still have their first call in flight). Safe to run twice at once: the
    provider de-duplicates by refund id and refund_mark_* change a refund once."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.REFUND_RECONCILE_AFTER_SECONDS)
    pending = Refund.objects.filter(status=Refund.Status.PENDING, payment__method__in=CUSTODIAL_METHODS,
                                    created_at__lte=cutoff).order_by("created_at")
    ids = list(pending.values_list("pk", flat=True)[:limit])
    for refund_id in ids:
        refund_reconcile(refund_id=refund_id)
    return len(ids)


def is_late_refundable(payment: Payment) -> bool:
    """Money that arrived after the payment closed (paid_late, still under review) can be
    sent back instead of accepted. It was never counted as a sale, so no ledger moves."""
    return (payment.status in ("expired", "cancelled", "failed")
            and Payment.Exception_.PAID_LATE in payment.exceptions
            and payment.review_status == Payment.Review.OPEN)


def refund_mark_succeeded(*, refund: Refund, actor: Actor, provider_refund_id: str = "") -> Refund:
    """Idempotent: a refund already final is returned unchanged."""
    with transaction.atomic():
        locked = Refund.objects.select_for_update().get(pk=refund.pk)
        if not refund_can_transition(locked.status, Refund.Status.SUCCEEDED):
            return locked
        payment = _lock(locked.payment_id)
        locked.status = Refund.Status.SUCCEEDED
        locked.completed_at = timezone.now()
        locked.provider_refund_id = provider_refund_id or locked.provider_refund_id
        locked.save(update_fields=["status", "completed_at", "provider_refund_id"])
        payment.refunded_amount += locked.amount
        payment.save(update_fields=["refunded_amount", "updated_at"])
        if payment.status not in Payment.PAID_STATUSES:
            _late_refund_settled(payment, locked, actor)
            return locked
        to_status = "refunded" if payment.refunded_amount >= payment.amount else "partially_refunded"
        _transition(payment, to_status, actor=actor, event_type="refund.succeeded",
                    data={"refund": str(locked.pk), "amount": locked.amount})
        # The platform keeps its fee on refunds (as Stripe does): the seller's net absorbs it all.
        LedgerEntry.objects.create(
            seller_id=payment.seller_id, payment=payment, refund=locked, kind=LedgerEntry.Kind.REFUND,
            method=payment.method, currency=payment.currency, gross=-locked.amount, fee=0, net=-locked.amount,
            fee_bps=payment.seller.effective_fee_bps,
            custody=LedgerEntry.Custody.PLATFORM if payment.method in CUSTODIAL_METHODS else LedgerEntry.Custody.SELLER,
        )
        if settled_its_order(payment):
            order_status = "refunded" if to_status == "refunded" else "partially_refunded"
            order_transition(order_id=payment.order_id, to_status=order_status, actor=actor,
                             data={"refund": str(locked.pk), "amount": locked.amount})
        webhook_event_emit(seller_id=payment.seller_id, event_type="refund.succeeded", data=refund_data(locked))
    return locked


def settled_its_order(payment: Payment) -> bool:
    """True for the payment whose completion made its order paid. A duplicate completed on an
    order another payment had already paid: refunding it gives back its own money only."""
    return Payment.Exception_.DUPLICATE not in payment.exceptions


def _late_refund_settled(payment: Payment, refund: Refund, actor: Actor) -> None:
    """Requires: payment locked. Late money went back: the payment keeps its status (it was
    never a sale, so no ledger entry and no order change) and its review is resolved."""
    payment.review_status = Payment.Review.RESOLVED
    payment.save(update_fields=["review_status", "updated_at"])
    payment_event_write(payment=payment, type="refund.succeeded", actor=actor,
                        data={"refund": str(refund.pk), "amount": refund.amount, "late_money_returned": True})
    webhook_event_emit(seller_id=payment.seller_id, event_type="refund.succeeded", data=refund_data(refund))


def refund_mark_failed(*, refund: Refund, actor: Actor, reason: str = "", provider_refund_id: str = "") -> Refund:
    with transaction.atomic():
        locked = Refund.objects.select_for_update().get(pk=refund.pk)
        if not refund_can_transition(locked.status, Refund.Status.FAILED):
            return locked
        locked.status = Refund.Status.FAILED
        locked.failure_reason = reason[:300]
        locked.completed_at = timezone.now()
        locked.provider_refund_id = provider_refund_id or locked.provider_refund_id
        locked.save(update_fields=["status", "failure_reason", "completed_at", "provider_refund_id"])
        payment_event_write(payment=locked.payment, type="refund.failed", actor=actor,
                            data={"refund": str(locked.pk), "reason": reason[:200]})
        webhook_event_emit(seller_id=locked.seller_id, event_type="refund.failed", data=refund_data(locked))
    return locked


def refund_cancel(*, refund: Refund, actor: Actor) -> Refund:
    """The seller withdraws a Nano refund they have not sent, so it stops counting against what
    is left to refund. Nothing moved: no ledger entry, and no webhook (refund.failed means the
    money could not go back, which is not what happened). Once cancelled the monitor stops
    looking for its send. Cancelling twice changes nothing; any other state is refused."""
    with transaction.atomic():
        locked = Refund.objects.select_for_update().select_related("payment").get(pk=refund.pk)
        if locked.status == Refund.Status.CANCELLED:
            return locked
        if not refund_can_transition(locked.status, Refund.Status.CANCELLED):
            raise PaymentStateError(f"This refund is {locked.get_status_display().lower()}; it cannot be cancelled.")
        locked.status = Refund.Status.CANCELLED
        locked.completed_at = timezone.now()
        locked.save(update_fields=["status", "completed_at"])
        payment_event_write(payment=locked.payment, type="refund.cancelled", actor=actor,
                            data={"refund": str(locked.pk), "amount": locked.amount})
    return locked


def refund_nano_send_record(*, refund: Refund, block_hash: str, actor: Actor) -> Refund:
    """The node shows the seller's send for this Nano refund: it succeeds, with the send's
    block hash as its provider id (unique, so one send settles one refund). Idempotent."""
    if Refund.objects.filter(provider_refund_id=block_hash).exclude(pk=refund.pk).exists():
        raise PaymentStateError("That send already settled another refund.")
    return refund_mark_succeeded(refund=refund, actor=actor, provider_refund_id=block_hash)


def refund_nano_verify(*, refund: Refund, reference: str, actor: Actor) -> Refund:
    """The seller pasted the block hash of their refund send; block_info must prove it
    (payments.providers.nano.NanoProvider.refund_verify says what is checked)."""
    if refund.status != Refund.Status.AWAITING_SELLER:
        raise PaymentStateError(f"This refund is {refund.get_status_display().lower()}; nothing to check.")
    send = get_provider(NANO).refund_verify(refund, reference)
    return refund_nano_send_record(refund=refund, block_hash=send.hash, actor=actor)


# --- shopper refund requests (issue 8: partner super-app shoppers) -----------------

REFUNDABLE_STATUSES = ("completed", "partially_refunded")


def refund_request_create(*, payment: Payment, partner_user_id: str, reason: str = "") -> RefundRequest:
    """A verified partner shopper asks the seller to refund their payment. Locks the payment row.

    Refused (PaymentStateError, 409) unless the payment is the shopper's, completed or
    partially refunded with money left, and has no open request yet (the partial unique
    constraint `refund_request_one_open_per_payment` backs the last rule).
    """
    with transaction.atomic():
        locked = _lock(payment.pk)
        if not partner_user_id or locked.order.partner_user_id != partner_user_id:
            raise PaymentStateError("This payment is not linked to your account.")
        if locked.status not in REFUNDABLE_STATUSES:
            raise PaymentStateError("You can ask for a refund only on a completed payment; "
                                    f"this one is {locked.get_status_display().lower()}.")
        if locked.refundable_amount <= 0:
            raise PaymentStateError("Nothing is left to refund on this payment.")
        if locked.refund_requests.filter(status=RefundRequest.Status.REQUESTED).exists():
            raise PaymentStateError("You have already asked for a refund on this payment. The seller will decide soon.")
        request = RefundRequest.objects.create(payment=locked, seller_id=locked.seller_id,
                                               partner_user_id=partner_user_id, reason=reason.strip()[:500])
        payment_event_write(payment=locked, type="refund_request.created", actor=Actor.shopper("partner"),
                            data={"refund_request": request.pk, "reason": request.reason[:200]})
    return request


def refund_request_decide(*, request: RefundRequest, approve: bool, actor: Actor) -> RefundRequest:
    """The seller approves (runs payment_refund for what is left) or declines a request.

    The request is claimed with a conditional UPDATE under the payment lock, so two
    clicks decide it once. The provider is called after that commit (inside
    payment_refund); if that raises anything at all, the claim is undone.
    """
    decided = RefundRequest.Status.APPROVED if approve else RefundRequest.Status.DECLINED
    user = actor.user if getattr(actor.user, "pk", None) else None
    with transaction.atomic():
        payment = _lock(request.payment_id)
        claimed = RefundRequest.objects.filter(pk=request.pk, status=RefundRequest.Status.REQUESTED)
        if not claimed.exists():
            raise PaymentStateError("This refund request has already been decided.")
        if approve and payment.status not in REFUNDABLE_STATUSES:
            raise PaymentStateError(f"This payment is {payment.get_status_display().lower()}; it cannot be refunded.")
        claimed.update(status=decided, decided_by=user, decided_at=timezone.now())
        if not approve:
            payment_event_write(payment=payment, type="refund_request.declined", actor=actor,
                                data={"refund_request": request.pk})
    if approve:
        try:
            refund = payment_refund(payment=payment, actor=actor, reason=f"Shopper request: {request.reason}"[:200])
        except BaseException:
            # Whatever went wrong (a refusal, a bug, a lost connection), the shopper's request
            # must not stay claimed with no refund behind it.
            with transaction.atomic():
                RefundRequest.objects.filter(pk=request.pk, status=decided, refund__isnull=True).update(
                    status=RefundRequest.Status.REQUESTED, decided_by=None, decided_at=None)
            raise
        with transaction.atomic():
            RefundRequest.objects.filter(pk=request.pk).update(refund=refund)
            payment_event_write(payment=payment, type="refund_request.approved", actor=actor,
                                data={"refund_request": request.pk, "refund": str(refund.pk)})
    return RefundRequest.objects.select_related("refund").get(pk=request.pk)


__all__ = [
    "ApplyResult", "OrderError", "PaymentStateError", "Quote", "observation_apply", "payment_start",
    "payment_transition", "payment_cancel", "payment_expire_now", "payment_accept_late", "payment_expire_stale",
    "payment_release_reservations", "ledger_record_payment", "receipt_assign", "payment_resolve_review",
    "payment_refund", "payment_verify", "receipt_dispute", "is_late_refundable", "refund_mark_succeeded",
    "refund_mark_failed", "refund_reconcile", "refunds_reconcile_pending",
    "refund_request_create", "refund_request_decide",
]

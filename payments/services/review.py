"""People's actions on a payment: a shopper's verify, staff's cancel, expire, accept-late, resolve and assign."""
from __future__ import annotations

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from config.celery_app import publish
from orders.actors import Actor
from payments.models import Payment, Receipt
from payments.money import due_in_wire_units
from payments.providers.base import Observation
from payments.providers.errors import (
    VerificationFailed,
)
from payments.providers.registry import get_provider
from payments.services.expiry import _expire_orders
from payments.services.observations import (
    ApplyResult,
    _apply_to_payment,
    _complete,
    _received_totals,
    observation_apply,
)
from payments.services.transitions import (
    PaymentStateError,
    _after_commit_event,
    _flag,
    _lock,
    _locking,
    _release_later,
    _transition,
    payment_event_write,
)


def payment_verify(*, payment: Payment, reference: str = "") -> Payment:
    """Check a shopper's "I've paid" with the provider and apply what it reports.

    With a reference (block hash, gateway payment id) the provider verifies it; without
    one it polls just this payment (a shopper's Nano check without a hash reads the address
    the monitor's way instead: payments.checks, one layer up). The claim itself changes nothing: only the
    provider's observations do, through observation_apply (idempotent), so verify,
    poll and webhook racing each other still complete the payment once. A reference
    Kassa already credited to another payment opens a review on both instead.
    Raises ProviderError (VerificationFailed, ProviderUnavailable, …) for the caller to show.
    """
    claimed = reference.strip()
    # Transaction ids are printable ASCII; anything else is no receipt's (and PostgreSQL refuses NUL in text).
    credited = (Receipt.objects.filter(provider=payment.method, external_tx_id__in={claimed, claimed.upper()})
                .exclude(payment=None).exclude(payment=payment).first()
                if claimed and claimed.isascii() and claimed.isprintable() else None)
    provider = get_provider(payment.method)
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
    if not cache.add(f"kassa:check:{payment.method}:{payment.pay_to or payment.pk}", 1, ADDRESS_CHECK_SECONDS):
        return False
    # Broker down: the beat monitor reads the address anyway.
    transaction.on_commit(lambda: publish("payments.tasks.verify_payment", str(payment.pk)))
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

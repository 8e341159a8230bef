"""Refunds: sending, reconciling, their outcomes, and partner shoppers' refund requests."""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from orders.actors import Actor
from orders.services import order_transition
from payments import notices
from payments.models import LedgerEntry, Payment, Refund, RefundRequest
from payments.providers.errors import (
    ProviderError,
    ProviderRejected,
)
from payments.providers.nano import refund_raw as nano_refund_raw
from payments.providers.registry import get_provider
from payments.representations import refund_data
from payments.selectors import payment_source_account
from payments.services.transitions import (
    CUSTODIAL_METHODS,
    NANO,
    PaymentStateError,
    _lock,
    _transition,
    log,
    payment_event_write,
)
from payments.states import refund_can_transition
from webhooks.services import webhook_event_emit


def payment_refund(*, payment: Payment, actor: Actor, amount_minor: int | None = None, reason: str = "",
                   refunds_seen: int | None = None) -> Refund:
    """Refund all or part of a completed payment through its provider.

    The Refund row is created under the payment lock (so two clicks cannot refund
    more than was paid); the provider is called after commit. Pending refunds count
    against what is left. `refunds_seen`, how many refunds the payment had when the
    person confirmed, makes a repeated confirmation (a double click) refund once.
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
        if refunds_seen is not None and locked.refunds.count() != refunds_seen:
            raise PaymentStateError("This payment changed since you confirmed (another refund was made); "
                                    "nothing more was refunded. Check it and try again.")
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
        if nano:
            notices.refund_awaiting_seller_queue(refund, locked)
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
        notices.refund_succeeded_queue(locked, payment)
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
        payment = _lock(locked.payment_id)
        payment_event_write(payment=payment, type="refund.failed", actor=actor,
                            data={"refund": str(locked.pk), "reason": reason[:200]})
        _reopen_duplicate_review(payment, locked, actor, reason)
        webhook_event_emit(seller_id=locked.seller_id, event_type="refund.failed", data=refund_data(locked))
    return locked


def _reopen_duplicate_review(payment: Payment, refund: Refund, actor: Actor, reason: str = "") -> None:
    """Requires: payment locked. Staff close a duplicate's review when they refund it, before
    the money has gone back. If that refund then fails, or the seller withdraws the Nano send,
    the money is still owed to the shopper: the review opens again, so it is not forgotten."""
    if Payment.Exception_.DUPLICATE not in payment.exceptions or payment.review_status != Payment.Review.RESOLVED:
        return
    payment.review_status = Payment.Review.OPEN
    payment.save(update_fields=["review_status", "updated_at"])
    payment_event_write(payment=payment, type="payment.review_reopened", actor=actor,
                        data={"refund": str(refund.pk), "refund_status": refund.status, "reason": reason[:200]})


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
        payment = _lock(locked.payment_id)
        payment_event_write(payment=payment, type="refund.cancelled", actor=actor,
                            data={"refund": str(locked.pk), "amount": locked.amount})
        _reopen_duplicate_review(payment, locked, actor, "the seller cancelled the refund")
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
        notices.refund_request_queue(request, locked)
    return request


def refund_request_decide(*, request: RefundRequest, approve: bool, actor: Actor,
                          amount_minor: int | None = None) -> RefundRequest:
    """The seller approves (runs payment_refund for `amount_minor`, default what is left) or declines a request.

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
            refund = payment_refund(payment=payment, actor=actor, amount_minor=amount_minor,
                                    reason=f"Shopper request: {request.reason}"[:200])
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

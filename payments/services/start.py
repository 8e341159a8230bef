"""Starting a payment: the method's quote, a unique Nano amount, the provider's instructions."""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.inserts import insert_unless_conflict
from orders.actors import Actor
from orders.models import Order
from orders.services import order_event_write, order_transition
from payments.models import Payment
from payments.providers.base import Quote
from payments.providers.errors import (
    NoFreeAmountSlot,
    PaymentError,
    ProviderError,
    ProviderNotConfigured,
)
from payments.providers.registry import get_provider
from payments.selectors import active_payment, order_locked_for_payment, reserved_amounts
from payments.services.transitions import (
    PaymentStateError,
    _after_commit_event,
    log,
    payment_event_write,
    payment_transition,
)
from sellers.models import Seller

# Unique-amount slots per (address, base amount): due = base + k µXNO, 1 <= k <= this.
MAX_AMOUNT_SLOTS = 1000
# Address-matched methods price in a fixed pay currency (gateways match by their own ids).
PROVIDER_PAY_CURRENCY = {"nano": "XNO"}


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
    local = provider.start_is_local
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

"""The guarded payment transition, its event and exception flags: what every other services module builds on."""
from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction

from orders.actors import Actor
from payments import notices
from payments.models import Payment, PaymentEvent
from payments.providers.errors import (
    PaymentError,
)
from payments.representations import payment_data
from payments.states import payment_can_transition
from webhooks.services import webhook_event_emit

log = logging.getLogger("kassa.payments")
CUSTODIAL_METHODS = ("razorpay", "coinpay")
NANO = "nano"


class PaymentStateError(PaymentError):
    """The requested change is not allowed from the payment's current status (HTTP 409)."""

    code = "invalid_state"
    http_status = 409

    def __init__(self, message: str, **kwargs):
        # These messages are written for people: show them as they are.
        super().__init__(message, user_message=message, **kwargs)


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
    notices.money_attention_queue(payment, code)


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


def _release_later(payment: Payment, now) -> None:
    _save_fields(payment, _release_fields(payment, now))


def _after_commit_event(payment: Payment, event_type: str) -> None:
    webhook_event_emit(seller_id=payment.seller_id, event_type=event_type, data=payment_data(payment))

"""Walk the whole payment transition table: every allowed move works and writes
exactly one event; every other move is refused and writes nothing."""
import itertools

import pytest

from orders.actors import Actor
from payments.models import LedgerEntry, Payment, PaymentEvent, Refund
from payments.services import (
    PaymentStateError,
    payment_transition,
    refund_cancel,
    refund_mark_failed,
    refund_mark_succeeded,
)
from payments.states import (
    PAYMENT_TRANSITIONS,
    REFUND_TERMINAL,
    REFUND_TRANSITIONS,
    TERMINAL,
    payment_can_transition,
    refund_can_transition,
)
from tests.factories import PaymentFactory

STATUSES = [choice for choice, _ in Payment.Status.choices]
ALL_PAIRS = list(itertools.product(STATUSES, STATUSES))


def test_table_covers_every_status():
    assert set(PAYMENT_TRANSITIONS) == set(STATUSES)
    assert all(targets <= set(STATUSES) for targets in PAYMENT_TRANSITIONS.values())
    assert {"failed", "refunded"} == TERMINAL


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status"), ALL_PAIRS)
def test_transition(from_status, to_status):
    payment = PaymentFactory(status=from_status)
    result = payment_transition(payment_id=payment.pk, to_status=to_status, actor=Actor.system("test"))
    payment.refresh_from_db()
    events = PaymentEvent.objects.filter(payment=payment)
    if payment_can_transition(from_status, to_status):
        assert result is not None
        assert payment.status == to_status
        assert events.count() == 1
        event = events.get()
        assert (event.from_status, event.to_status) == (from_status, to_status)
    else:
        assert result is None
        assert payment.status == from_status
        assert events.count() == 0


def test_design_rules_hold():
    assert not payment_can_transition("confirming", "expired"), "a confirming payment never expires"
    assert not payment_can_transition("expired", "pending")
    assert payment_can_transition("expired", "completed"), "staff may accept late money"


# --- refunds ------------------------------------------------------------------------------------

REFUND_STATUSES = [choice for choice, _ in Refund.Status.choices]


def test_refund_table_covers_every_status():
    assert set(REFUND_TRANSITIONS) == set(REFUND_STATUSES)
    assert all(targets <= set(REFUND_STATUSES) for targets in REFUND_TRANSITIONS.values())
    assert {"succeeded", "failed", "cancelled"} == REFUND_TERMINAL
    assert not refund_can_transition("awaiting_seller", "failed"), "a Nano refund fails only if a human says so"
    assert refund_can_transition("awaiting_seller", "cancelled"), "an abandoned Nano refund has a way out"
    assert not refund_can_transition("pending", "cancelled"), "a gateway refund is in the provider's hands"
    assert set(Refund.OPEN_STATUSES) == set(REFUND_STATUSES) - REFUND_TERMINAL


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status"), [
    pair for pair in itertools.product(REFUND_STATUSES, REFUND_STATUSES) if pair[1] in ("succeeded", "failed")])
def test_refund_transition(from_status, to_status):
    """The two services that finish a refund follow the table; a refused move changes nothing."""
    payment = PaymentFactory(status="completed")
    refund = Refund.objects.create(payment=payment, seller=payment.seller, amount=1, status=from_status)
    mark = refund_mark_succeeded if to_status == "succeeded" else refund_mark_failed
    mark(refund=refund, actor=Actor.system("test"))
    refund.refresh_from_db()
    payment.refresh_from_db()
    if refund_can_transition(from_status, to_status):
        assert refund.status == to_status and refund.completed_at is not None
        assert (payment.refunded_amount == 1) == (to_status == "succeeded")
        assert LedgerEntry.objects.filter(refund=refund).exists() == (to_status == "succeeded")
    else:
        assert refund.status == from_status and refund.completed_at is None
        assert payment.refunded_amount == 0 and not LedgerEntry.objects.filter(refund=refund).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("from_status", REFUND_STATUSES)
def test_refund_cancel_follows_the_table(from_status):
    """Only a refund waiting for the seller's send can be cancelled: one event, no ledger entry,
    no money moved; cancelling again changes nothing; any other state is refused."""
    payment = PaymentFactory(status="completed")
    refund = Refund.objects.create(payment=payment, seller=payment.seller, amount=1, status=from_status)
    events = PaymentEvent.objects.filter(payment=payment, type="refund.cancelled")
    if refund_can_transition(from_status, "cancelled"):
        refund_cancel(refund=refund, actor=Actor.system("test"))
        again = refund_cancel(refund=refund, actor=Actor.system("test"))
        assert again.status == "cancelled" and again.completed_at is not None
        assert events.count() == 1
    elif from_status == "cancelled":
        assert refund_cancel(refund=refund, actor=Actor.system("test")).status == "cancelled"
        assert not events.exists()
    else:
        with pytest.raises(PaymentStateError):
            refund_cancel(refund=refund, actor=Actor.system("test"))
        refund.refresh_from_db()
        assert refund.status == from_status and not events.exists()
    payment.refresh_from_db()
    assert payment.refunded_amount == 0 and payment.status == "completed"
    assert not LedgerEntry.objects.filter(refund=refund).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(5))
def test_cancel_racing_the_sellers_send_leaves_one_consistent_outcome(attempt):
    """Both lock the refund row first: either the send settles it (and cancel is refused) or it
    is cancelled (and the send changes nothing); never a cancelled refund with a ledger entry."""
    from payments.services import refund_nano_send_record
    from tests.concurrency import run_at_once

    payment = PaymentFactory(status="completed", method="nano")
    refund = Refund.objects.create(payment=payment, seller=payment.seller, amount=1, status="awaiting_seller")

    def cancel():
        try:
            return refund_cancel(refund=refund, actor=Actor.system("seller")).status
        except PaymentStateError:
            return "refused"

    def settle():
        return refund_nano_send_record(refund=refund, block_hash=f"{attempt:064X}", actor=Actor.system("node")).status

    cancelled, settled = run_at_once(cancel, settle)
    refund.refresh_from_db()
    payment.refresh_from_db()
    entries = LedgerEntry.objects.filter(refund=refund).count()
    if refund.status == "cancelled":
        assert (cancelled, settled) == ("cancelled", "cancelled")
        assert entries == 0 and payment.refunded_amount == 0
    else:
        assert refund.status == "succeeded" and (cancelled, settled) == ("refused", "succeeded")
        assert entries == 1 and payment.refunded_amount == 1

"""Walk the whole payment transition table: every allowed move works and writes
exactly one event; every other move is refused and writes nothing."""
import itertools

import pytest

from orders.actors import Actor
from payments.models import Payment, PaymentEvent
from payments.services import payment_transition
from payments.states import PAYMENT_TRANSITIONS, TERMINAL, payment_can_transition
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

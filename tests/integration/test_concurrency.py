"""Races on PostgreSQL: the same completion from two places at once changes state once."""
from datetime import timedelta

import pytest
from django.utils import timezone

from payments.models import LedgerEntry, Payment, PaymentEvent
from payments.money import RAW_PER_MICRO_XNO
from payments.providers.base import Observation
from payments.services import observation_apply, payment_expire_stale
from tests.concurrency import run_at_once
from tests.factories import PaymentFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_threads_apply_the_same_completion_once():
    payment = PaymentFactory()
    obs = Observation(provider="nano", external_tx_id="C" * 64, confirmed=True, pay_to=payment.pay_to,
                      amount=payment.amount_due * RAW_PER_MICRO_XNO)
    run_at_once(lambda: observation_apply(observation=obs), lambda: observation_apply(observation=obs))
    payment.refresh_from_db()
    assert payment.status == "completed"
    assert PaymentEvent.objects.filter(payment=payment, type="payment.completed").count() == 1
    assert LedgerEntry.objects.filter(payment=payment).count() == 1


def test_expiry_racing_a_completion_never_loses_money():
    payment = PaymentFactory(expires_at=timezone.now() - timedelta(hours=1))
    obs = Observation(provider="nano", external_tx_id="D" * 64, confirmed=True, pay_to=payment.pay_to,
                      amount=payment.amount_due * RAW_PER_MICRO_XNO)
    run_at_once(lambda: observation_apply(observation=obs), lambda: payment_expire_stale())
    payment.refresh_from_db()
    # Either the money won (completed) or expiry won and the money is flagged paid_late: never lost.
    assert (payment.status == "completed") or (payment.status == "expired" and "paid_late" in payment.exceptions)
    assert PaymentEvent.objects.filter(payment=payment).count() >= 1


def test_two_expiry_ticks_at_once_expire_each_payment_once():
    stale = [PaymentFactory(expires_at=timezone.now() - timedelta(hours=1)) for _ in range(30)]
    run_at_once(payment_expire_stale, payment_expire_stale)
    assert Payment.objects.filter(pk__in=[p.pk for p in stale], status="expired").count() == 30
    assert PaymentEvent.objects.filter(type="payment.expired").count() == 30


def test_an_order_locked_during_the_sweep_still_expires_on_a_later_tick():
    """A completion (or a shopper's payment start) holding the order row while the sweep runs must
    not strand the order `open` with nothing pending: a later tick still expires it."""
    import threading

    from django.db import connection, transaction

    from orders.models import Order

    payment = PaymentFactory(expires_at=timezone.now() - timedelta(hours=1))
    locked, release = threading.Event(), threading.Event()

    def hold_order_lock():
        try:
            with transaction.atomic():
                Order.objects.select_for_update().get(pk=payment.order_id)
                locked.set()
                release.wait(30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_order_lock)
    holder.start()
    try:
        assert locked.wait(10)
        payment_expire_stale()
    finally:
        release.set()
        holder.join(30)
    payment_expire_stale()  # the next tick, with the lock gone
    payment.refresh_from_db()
    payment.order.refresh_from_db()
    assert payment.status == "expired"
    assert payment.order.status == "expired"
    assert PaymentEvent.objects.filter(payment=payment, type="payment.expired").count() == 1

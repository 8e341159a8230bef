"""The Nano monitor tick's database side, with the provider's scan faked (no RPC)."""
from dataclasses import replace

import pytest

from core.nano_codec import RAW_PER_MICRO
from orders.actors import Actor
from payments.models import NanoCursor, Payment, Receipt
from payments.monitor import monitor_tick
from payments.monitor_nano import LOCK_KEY, check_addresses, tick, watched_accounts, watched_addresses
from payments.providers.base import Observation
from payments.providers.errors import ProviderUnavailable
from payments.providers.nano import ScanResult
from tests.factories import PaymentFactory, SellerFactory, nano_address

pytestmark = pytest.mark.django_db


class FakeProvider:
    """Records what the tick asked for and answers with canned observations."""

    def __init__(self, observations=(), cursors=None, error=None):
        self.observations, self.cursors, self.error = list(observations), cursors or {}, error
        self.asked = []

    def scan(self, accounts):
        self.asked.append(list(accounts))
        if self.error:
            raise self.error
        return ScanResult(observations=list(self.observations), cursors=dict(self.cursors), rpc_calls=2,
                          baselines=dict(getattr(self, "baselines", {})))


def paid(payment, tx="A" * 64, *, amount=None, confirmed=True):
    return Observation(provider="nano", external_tx_id=tx, confirmed=confirmed, pay_to=payment.pay_to,
                       amount=payment.amount_due * RAW_PER_MICRO if amount is None else amount)


def test_watched_accounts_are_distinct_reserved_addresses_with_cursor_and_oldest_time(django_assert_num_queries):
    seller = SellerFactory()
    first = PaymentFactory(order__seller=seller)
    PaymentFactory(order__seller=seller)
    other = PaymentFactory()
    PaymentFactory(amount_reserved=False, pay_to=nano_address("released"))
    PaymentFactory(method="razorpay", pay_to="order_x", amount_reserved=True)
    NanoCursor.objects.create(address=first.pay_to, frontier="F" * 64)
    with django_assert_num_queries(2):  # addresses (one GROUP BY query) + cursors
        accounts = {a.address: a for a in watched_accounts()}
    assert set(accounts) == {first.pay_to, other.pay_to}
    assert accounts[first.pay_to].cursor == "F" * 64 and accounts[other.pay_to].cursor == ""
    assert accounts[first.pay_to].since == int(first.created_at.timestamp())


def test_tick_applies_new_facts_and_stores_moved_cursors():
    payment = PaymentFactory()
    provider = FakeProvider([paid(payment)], cursors={payment.pay_to: "B" * 64})
    summary = tick(provider=provider)
    payment.refresh_from_db()
    assert payment.status == "completed" and payment.order.status == "paid"
    assert summary["applied"] == 1 and summary["rpc_calls"] == 2
    assert NanoCursor.objects.get(address=payment.pay_to).frontier == "B" * 64


def test_settled_receipts_are_skipped_without_a_transaction(django_assert_max_num_queries):
    payment = PaymentFactory()
    obs = paid(payment)
    tick(provider=FakeProvider([obs]))
    # Same fact again (still receivable on the node), twice in one scan: 2 reads + 1 receipt check, no writes;
    # + 1 read for Nano refunds awaiting the seller's send (none here, so no RPC for them)
    # + 1 delete of the rows of addresses no longer watched (none here)
    # + 1 update noting when the read addresses were read (their slots may be released after).
    with django_assert_max_num_queries(6):
        summary = tick(provider=FakeProvider([obs, obs]))
    assert summary == {**summary, "new": 0, "applied": 0}


def test_the_same_send_seen_as_receivable_then_received_is_one_receipt():
    payment = PaymentFactory()
    tick(provider=FakeProvider([paid(payment)]))
    tick(provider=FakeProvider([replace(paid(payment), raw={"via": "history"})]))
    assert Receipt.objects.filter(payment=payment).count() == 1
    assert payment.events.filter(type="payment.completed").count() == 1


def test_unconfirmed_then_confirmed_moves_through_confirming():
    payment = PaymentFactory()
    tick(provider=FakeProvider([paid(payment, confirmed=False)]))
    payment.refresh_from_db()
    assert payment.status == "confirming"
    tick(provider=FakeProvider([paid(payment)]))
    payment.refresh_from_db()
    assert payment.status == "completed"


def test_money_matching_nothing_becomes_an_unmatched_receipt():
    payment = PaymentFactory()
    PaymentFactory(order__seller=payment.seller)  # two active payments on the address: ambiguous
    more_than_due = (payment.amount_due + 7) * RAW_PER_MICRO  # no slot, and more than either still needs
    summary = tick(provider=FakeProvider([paid(payment, amount=more_than_due)]))
    receipt = Receipt.objects.get(external_tx_id="A" * 64)
    assert receipt.payment is None and receipt.amount == str(more_than_due) and summary["applied"] == 1
    payment.refresh_from_db()
    assert payment.status == "pending"


def test_an_overpayment_from_a_stranger_to_the_only_active_payment_is_unmatched():
    payment = PaymentFactory()
    tick(provider=FakeProvider([paid(payment, amount=(payment.amount_due + 7) * RAW_PER_MICRO)]))
    payment.refresh_from_db()
    assert payment.status == "pending" and Receipt.objects.get().payment is None


def test_a_node_that_is_down_changes_nothing():
    payment = PaymentFactory()
    with pytest.raises(ProviderUnavailable):
        tick(provider=FakeProvider(error=ProviderUnavailable("down")))
    assert not Receipt.objects.exists() and not NanoCursor.objects.exists()
    payment.refresh_from_db()
    assert payment.status == "pending"


def test_monitor_logs_and_skips_when_the_node_is_down(monkeypatch):
    PaymentFactory()
    monkeypatch.setattr("payments.monitor_nano.get_provider",
                        lambda code: FakeProvider(error=ProviderUnavailable("down")))
    assert monitor_tick(("nano",)) == {"nano": {"error": "ProviderUnavailable"}}


def test_a_fact_that_fails_to_apply_keeps_its_address_cursor(monkeypatch):
    broken, fine = PaymentFactory(), PaymentFactory()
    real_apply = __import__("payments.services", fromlist=["x"]).observation_apply

    def flaky(*, observation, actor=None):
        if observation.pay_to == broken.pay_to:
            raise RuntimeError("boom")
        return real_apply(observation=observation, actor=actor)

    monkeypatch.setattr("payments.monitor_nano.observation_apply", flaky)
    provider = FakeProvider([paid(broken, "B" * 64), paid(fine, "C" * 64)],
                            cursors={broken.pay_to: "1" * 64, fine.pay_to: "2" * 64})
    summary = tick(provider=provider)
    assert summary["failed"] == 1
    assert list(NanoCursor.objects.values_list("address", flat=True)) == [fine.pay_to]
    assert Payment.objects.get(pk=fine.pk).status == "completed"


def test_no_reserved_payments_means_no_rpc():
    provider = FakeProvider()
    assert tick(provider=provider)["addresses"] == 0 and provider.asked == []


def test_a_second_tick_at_the_same_time_stays_out():
    from django.core.cache import cache

    PaymentFactory()
    cache.add(LOCK_KEY, "1", 60)
    provider = FakeProvider()
    assert "skipped" in tick(provider=provider) and provider.asked == []


def test_a_check_of_some_addresses_reads_only_those_and_does_not_wait_for_the_beat_lock():
    from django.core.cache import cache

    payment = PaymentFactory()
    PaymentFactory()  # another address with a reserved payment: not asked about
    cache.add(LOCK_KEY, "1", 60)  # a beat tick is running
    provider = FakeProvider([paid(payment)])
    summary = check_addresses({payment.pay_to, nano_address("no-payment-here")}, provider=provider)
    assert [account.address for account in provider.asked[0]] == [payment.pay_to]
    assert summary["applied"] == 1 and summary["addresses"] == 1
    assert Payment.objects.get(pk=payment.pk).status == "completed"


def test_an_address_no_longer_watched_is_forgotten_so_its_next_payment_takes_a_new_baseline():
    watched = PaymentFactory()
    released = PaymentFactory(amount_reserved=False)
    NanoCursor.objects.create(address=watched.pay_to, frontier="A" * 64)
    NanoCursor.objects.create(address=released.pay_to, frontier="B" * 64, preexisting=["C" * 64])
    assert tick(provider=FakeProvider())["forgotten"] == 1
    assert list(NanoCursor.objects.values_list("address", flat=True)) == [watched.pay_to]


def test_a_first_read_stores_its_baseline_and_later_reads_use_it():
    payment = PaymentFactory()
    provider = FakeProvider()
    provider.baselines = {payment.pay_to: ["D" * 64]}
    tick(provider=provider)
    assert provider.asked[0][0].baseline is None
    [account] = watched_accounts()
    assert account.baseline == frozenset({"D" * 64}) and account.cursor == ""


def test_watched_addresses_are_the_reserved_ones():
    first, second = PaymentFactory(), PaymentFactory()
    PaymentFactory(amount_reserved=False, pay_to=nano_address("released-2"))
    assert watched_addresses() == {first.pay_to, second.pay_to}


def test_with_redis_down_the_tick_runs_without_its_lock_and_the_gateways_are_still_checked(settings, monkeypatch):
    """The beat lock lives in the cache. With Redis down and a broker of its own (RabbitMQ) still
    delivering ticks, taking the lock raised and monitor_tick stopped at Nano: no payment of any method
    was checked for as long as Redis was down. The lock only saves work, so the tick runs without it."""
    from tests.integration.conftest import free_port

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
                                   "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}}
    payment = PaymentFactory()
    provider = FakeProvider([paid(payment)], cursors={payment.pay_to: "B" * 64})
    monkeypatch.setattr("payments.monitor_nano.get_provider", lambda code: provider)
    summary = monitor_tick(("nano", "razorpay"))
    payment.refresh_from_db()
    assert payment.status == "completed" and summary["nano"]["applied"] == 1
    assert summary["razorpay"] == {"polled": 0, "applied": 0, "rejected": 0, "webhooks_requeued": 0}


def test_a_node_answering_a_malformed_amount_skips_the_nano_tick_and_the_other_methods_still_run(settings):
    import responses

    from payments.providers.registry import reset_providers
    from tests.payments.nano_fake_node import FakeNode

    settings.NANO_RPC_URL = "http://node.test/rpc"
    reset_providers()
    payment = PaymentFactory()
    node = FakeNode(payment.pay_to)
    node.pending("send", payment.amount_due * RAW_PER_MICRO, sender=nano_address("s"), timestamp=0)
    node.receivable[next(iter(node.receivable))]["amount"] = "9" * 42  # more than 128 bits: a broken node
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.add_callback(responses.POST, settings.NANO_RPC_URL, callback=node)
        summary = monitor_tick(("nano", "razorpay"))
    assert summary["nano"] == {"error": "ProviderUnavailable"} and "error" not in summary["razorpay"]
    assert not Receipt.objects.exists() and not NanoCursor.objects.exists()
    reset_providers()


def test_a_slot_is_kept_until_the_node_has_been_read_after_its_window(settings):
    """The node was down from before a payment expired until after its slot's release window ended, and
    the shopper's money arrived meanwhile. Releasing the slot unread would have dropped the address from
    the watch: the send would never be seen. The slot is kept until a scan that began after the window
    has read the address; that scan finds the money (paid late, for staff), and only then is it freed."""
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from payments.services import payment_expire_now, payment_release_reservations

    settings.NANO_SLOT_RELEASE_AFTER = 2 * 3600
    payment = PaymentFactory()
    first = FakeProvider()
    first.baselines = {payment.pay_to: []}  # the first read of an address takes its baseline
    tick(provider=first)
    payment_expire_now(payment=payment, actor=Actor.system("test"))
    payment.refresh_from_db()
    down = FakeProvider(error=ProviderUnavailable("node down"))
    with time_machine.travel(payment.reserved_until + timedelta(minutes=5), tick=False):
        with pytest.raises(ProviderUnavailable):
            tick(provider=down)
        assert payment_release_reservations() == 0  # nobody has looked since the window ended
        assert payment.pay_to in watched_addresses()
        tick(provider=FakeProvider([paid(payment)]))  # the node is back: the send is there
        payment.refresh_from_db()
        assert payment.status == "expired" and "paid_late" in payment.exceptions
    with time_machine.travel(timezone.now() + timedelta(days=2), tick=False):
        tick(provider=FakeProvider())
        assert payment_release_reservations() == 1

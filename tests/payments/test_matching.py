"""Nano money is credited to a payment only on evidence that points at it (issue 15 item 10)."""
from datetime import timedelta

import pytest
from django.utils import timezone

from orders.actors import Actor
from payments.models import Payment, Receipt
from payments.money import RAW_PER_MICRO_XNO
from payments.providers import registry
from payments.providers.base import Observation
from payments.providers.errors import VerificationFailed
from payments.services import observation_apply, payment_expire_stale, payment_start, payment_verify, receipt_assign
from tests.factories import OrderFactory, PaymentFactory, SellerFactory, nano_address
from tests.services_patch import use_provider

pytestmark = pytest.mark.django_db

ALICE, BOB = nano_address("shopper-alice"), nano_address("shopper-bob")


def send(payment, micro, *, tx, source=ALICE, confirmed=True):
    return observation_apply(observation=Observation(
        provider="nano", external_tx_id=tx, amount=micro * RAW_PER_MICRO_XNO, confirmed=confirmed,
        pay_to=payment.pay_to, source_account=source))


@pytest.fixture
def fake_nano(monkeypatch):
    monkeypatch.setitem(registry.PROVIDER_CLASSES, "nano", "tests.api.fakes.FakeNano")
    registry.reset_providers()
    yield
    registry.reset_providers()


def test_the_bare_price_is_never_a_unique_amount(fake_nano):
    seller = SellerFactory(enabled_methods=["nano"])
    orders = [OrderFactory(seller=seller, amount=33300) for _ in range(3)]
    dues = [payment_start(order_id=o.pk, method="nano", actor=Actor.system("t")).amount_due for o in orders]
    assert dues == [333_001, 333_002, 333_003]  # FakeNano: 10 µXNO per paisa; k starts at 1


def test_clean_repro_the_bare_price_completes_nobody(fake_nano):
    """Two ₹333.00 orders on one address; shopper A sends the price without the unique suffix."""
    seller = SellerFactory(enabled_methods=["nano"])
    b = payment_start(order_id=OrderFactory(seller=seller, amount=33300).pk, method="nano", actor=Actor.system("t"))
    a = payment_start(order_id=OrderFactory(seller=seller, amount=33300).pk, method="nano", actor=Actor.system("t"))
    result = send(a, 333_000, tx="A" * 64, source=ALICE)
    assert result.payment is None
    receipt = Receipt.objects.get(external_tx_id="A" * 64)
    assert receipt.payment is None and receipt.resolution == "", "an unmatched receipt in the review queue"
    for payment in (a, b):
        payment.refresh_from_db()
        assert payment.status == "pending" and payment.amount_received == "0"


def test_a_strangers_partial_on_the_only_active_payment_is_unmatched():
    payment = PaymentFactory(amount_due=1_000_001)
    assert send(payment, 400_000, tx="1" * 64).payment is None
    payment.refresh_from_db()
    assert payment.status == "pending" and payment.amount_received == "0"


def test_an_overpayment_from_a_stranger_is_unmatched():
    payment = PaymentFactory(amount_due=1_000_001)
    assert send(payment, 1_000_777, tx="1" * 64).payment is None


def test_a_top_up_from_the_account_that_paid_in_is_credited():
    payment = PaymentFactory(amount_due=1_000_001)
    PaymentFactory(order__seller=payment.seller, amount_due=2_000_001)  # another active payment on the address
    send(payment, 400_000, tx="1" * 64, source=ALICE)
    receipt_assign(receipt=Receipt.objects.get(), payment=payment, actor=Actor.system("staff"))
    assert send(payment, 300_000, tx="2" * 64, source=BOB).payment is None, "another account: no evidence"
    result = send(payment, 600_001, tx="3" * 64, source=ALICE)
    payment.refresh_from_db()
    assert result.payment == payment and payment.status == "completed" and payment.exceptions == []


def test_an_exact_amount_after_someone_else_paid_that_payment_is_unmatched():
    """Half of a 2-item order equals another order's unique amount: it must not land on that order."""
    seller = SellerFactory()
    one_item = PaymentFactory(order__seller=seller, amount_due=1_000_001)
    two_items = PaymentFactory(order__seller=seller, amount_due=2_000_002)
    send(one_item, 1_000_001, tx="1" * 64, source=BOB)  # its own shopper pays it exactly
    half = send(two_items, 1_000_001, tx="2" * 64, source=ALICE)  # two_items' shopper pays half
    assert half.payment is None
    one_item.refresh_from_db()
    two_items.refresh_from_db()
    assert one_item.status == "completed" and one_item.exceptions == [] and one_item.amount_received == str(
        1_000_001 * RAW_PER_MICRO_XNO)
    assert two_items.status == "pending"


def test_the_same_account_sending_the_exact_amount_twice_is_an_overpayment_on_its_payment():
    payment = PaymentFactory(amount_due=1_000_001)
    send(payment, 1_000_001, tx="1" * 64)
    assert send(payment, 1_000_001, tx="2" * 64).payment == payment
    payment.refresh_from_db()
    assert "overpaid" in payment.exceptions and payment.review_status == "open"


def test_a_top_up_to_a_just_expired_payment_is_paid_late_on_it():
    payment = PaymentFactory(amount_due=1_000_001)
    PaymentFactory(order__seller=payment.seller, amount_due=3_000_001)  # still active on the address
    send(payment, 400_000, tx="1" * 64)
    receipt_assign(receipt=Receipt.objects.get(), payment=payment, actor=Actor.system("staff"))
    Payment.objects.filter(pk=payment.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    payment_expire_stale()
    result = send(payment, 600_001, tx="2" * 64)
    payment.refresh_from_db()
    assert result.payment == payment
    assert payment.status == "expired" and "paid_late" in payment.exceptions and payment.review_status == "open"
    assert Receipt.objects.filter(payment=None).count() == 0


def test_an_ambiguous_top_up_is_unmatched():
    """The same account paid into two payments on the address, both still open: staff decide."""
    first = PaymentFactory(amount_due=1_000_001)
    second = PaymentFactory(order__seller=first.seller, amount_due=2_000_001)
    send(first, 100, tx="1" * 64)
    send(second, 100, tx="2" * 64)
    for tx, payment in (("1" * 64, first), ("2" * 64, second)):
        receipt_assign(receipt=Receipt.objects.get(external_tx_id=tx), payment=payment, actor=Actor.system("s"))
    assert send(first, 5, tx="3" * 64).payment is None


class _BlockPaysOther:
    """A provider whose block_info check would refuse the hash (it pays another amount)."""

    code = "nano"

    def verify(self, payment, reference):
        raise VerificationFailed("wrong_amount", "That block sends another amount.")

    def poll(self, payments):
        return []


def test_ive_paid_with_a_hash_credited_elsewhere_opens_a_review_on_both(monkeypatch):
    seller = SellerFactory()
    b = PaymentFactory(order__seller=seller, amount_due=3_996_001)
    a = PaymentFactory(order__seller=seller, amount_due=3_996_002)
    send(b, 3_996_001, tx="C" * 64, source=ALICE)  # credited to B on its exact amount
    use_provider(monkeypatch, lambda method: _BlockPaysOther())
    with pytest.raises(VerificationFailed) as caught:
        payment_verify(payment=a, reference="c" * 64)
    assert caught.value.reason == "other_payment" and "review" in caught.value.user_message
    for payment in (a, b):
        payment.refresh_from_db()
        assert "disputed" in payment.exceptions and payment.review_status == "open"
        event = payment.events.get(type="payment.exception.disputed")
        assert event.data["tx"] == "C" * 64 and event.data["source_account"] == ALICE
        assert event.data["credited_to"] == str(b.pk) and event.data["claimed_by"] == str(a.pk)
    with pytest.raises(VerificationFailed):
        payment_verify(payment=a, reference="C" * 64)
    assert a.events.filter(type="payment.exception.disputed").count() == 1, "a repeat changes nothing"

"""Refunds: what a refund may change, and what happens when the provider call goes wrong."""
import pytest

from orders.actors import Actor
from orders.models import Order
from payments.models import Payment, Refund, RefundRequest
from payments.money import RAW_PER_MICRO_XNO
from payments.providers.base import Observation, RefundResult
from payments.services import observation_apply, payment_refund, refund_request_create, refund_request_decide
from payments.staff.services import payment_refund_duplicate
from tests.factories import OrderFactory, PaymentFactory

pytestmark = pytest.mark.django_db


class Succeeds:
    def refund(self, payment, amount_minor, **kwargs):
        return RefundResult(provider_refund_id=f"rf_{payment.pk.hex[:10]}_{amount_minor}", status="succeeded")


def pay(payment, tx):
    observation_apply(observation=Observation(provider="nano", external_tx_id=tx, confirmed=True,
                                              amount=payment.amount_due * RAW_PER_MICRO_XNO,
                                              pay_to=payment.pay_to, payment_ref=str(payment.pk)))
    payment.refresh_from_db()
    return payment


@pytest.fixture
def paid_twice(monkeypatch):
    """An order paid by `first`, then paid again by `second` (flagged duplicate)."""
    monkeypatch.setattr("payments.services.get_provider", lambda method: Succeeds())
    order = OrderFactory()
    first = pay(PaymentFactory(order=order, seller=order.seller, amount_due=1_000_001), "1" * 64)
    second = pay(PaymentFactory(order=order, seller=order.seller, amount_due=1_000_002), "2" * 64)
    assert Payment.Exception_.DUPLICATE in second.exceptions and first.exceptions == []
    return order, first, second


def test_refunding_a_duplicate_leaves_the_order_paid(paid_twice):
    order, first, second = paid_twice
    refund = payment_refund_duplicate(payment=second, actor=Actor.system("staff"))
    assert refund.status == "succeeded"
    second.refresh_from_db()
    assert second.status == "refunded"
    assert Order.objects.get(pk=order.pk).status == "paid"


def test_partly_refunding_a_duplicate_leaves_the_order_paid(paid_twice):
    order, _, second = paid_twice
    payment_refund(payment=second, actor=Actor.system("staff"), amount_minor=100)
    assert Order.objects.get(pk=order.pk).status == "paid"


def test_refunding_the_settling_payment_still_moves_the_order(paid_twice):
    order, first, second = paid_twice
    payment_refund_duplicate(payment=second, actor=Actor.system("staff"))
    payment_refund(payment=first, actor=Actor.system("seller"), amount_minor=100)
    assert Order.objects.get(pk=order.pk).status == "partially_refunded"
    payment_refund(payment=first, actor=Actor.system("seller"))
    assert Order.objects.get(pk=order.pk).status == "refunded"


# --- item 15: a refund request's claim is released on every error -------------------------

@pytest.mark.parametrize("error", [RuntimeError("bug"), ConnectionError("db went away"), KeyError("x")])
def test_a_refund_request_claim_is_released_on_any_error(monkeypatch, error):
    order = OrderFactory(partner_user_id="u@example.com")
    payment = pay(PaymentFactory(order=order, seller=order.seller), "3" * 64)
    request = refund_request_create(payment=payment, partner_user_id="u@example.com", reason="broken")

    def boom(**kwargs):
        raise error

    monkeypatch.setattr("payments.services.payment_refund", boom)
    with pytest.raises(type(error)):
        refund_request_decide(request=request, approve=True, actor=Actor.system("seller"))
    request.refresh_from_db()
    assert request.status == RefundRequest.Status.REQUESTED and request.decided_at is None
    assert not Refund.objects.exists()

"""Refunds: what a refund may change, and what happens when the provider call goes wrong."""
import pytest

from orders.actors import Actor
from orders.models import Order
from payments.models import Payment, Refund, RefundRequest
from payments.money import RAW_PER_MICRO_XNO
from payments.providers.base import Observation, RefundResult
from payments.providers.errors import PaymentError, ProviderRejected, ProviderUnavailable
from payments.services import (
    observation_apply,
    payment_refund,
    refund_mark_failed,
    refund_request_create,
    refund_request_decide,
    refunds_reconcile_pending,
)
from payments.staff.services import payment_refund_duplicate
from tests.factories import GatewayPaymentFactory, OrderFactory, PaymentFactory
from tests.services_patch import use_provider

pytestmark = pytest.mark.django_db


class Succeeds:
    def refund(self, payment, amount_minor, **kwargs):
        return RefundResult(provider_refund_id=f"rf_{payment.pk.hex[:10]}_{amount_minor}", status="succeeded")


def pay(payment, tx):
    wire = RAW_PER_MICRO_XNO if payment.method == "nano" else 1
    observation_apply(observation=Observation(provider=payment.method, external_tx_id=tx, confirmed=True,
                                              amount=payment.amount_due * wire,
                                              pay_to=payment.pay_to, payment_ref=str(payment.pk)))
    payment.refresh_from_db()
    return payment


@pytest.fixture
def paid_twice(monkeypatch):
    """An order paid by `first`, then paid again by `second` (flagged duplicate)."""
    use_provider(monkeypatch, lambda method: Succeeds())
    order = OrderFactory()  # a gateway method: a Nano refund waits for the seller's own send
    first = pay(GatewayPaymentFactory(order=order, seller=order.seller), "pay_first")
    second = pay(GatewayPaymentFactory(order=order, seller=order.seller), "pay_second")
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


class Accepts:
    """The gateway takes the refund and answers later (a Razorpay refund is processed async)."""
    def refund(self, payment, amount_minor, **kwargs):
        return RefundResult(provider_refund_id=f"rf_{payment.pk.hex[:10]}", status="pending")


def test_a_duplicate_refund_that_fails_later_reopens_the_review(paid_twice, monkeypatch):
    """Staff's refund closed the duplicate's review; the gateway's refund.failed arrives later.
    The money never went back, so the review opens again instead of the duplicate being forgotten."""
    order, first, second = paid_twice
    use_provider(monkeypatch, lambda method: Accepts())
    refund = payment_refund_duplicate(payment=second, actor=Actor.system("staff"))
    second.refresh_from_db()
    assert (refund.status, second.review_status) == ("pending", "resolved")

    refund_mark_failed(refund=refund, actor=Actor.system("razorpay"), reason="bank account closed")
    refund_mark_failed(refund=refund, actor=Actor.system("razorpay"), reason="bank account closed")  # replayed
    second.refresh_from_db()
    assert (second.status, second.review_status) == ("completed", "open")
    reopened = list(second.events.filter(type="payment.review_reopened").values_list("data", flat=True))
    assert len(reopened) == 1 and reopened[0] | {
        "refund": str(refund.pk), "refund_status": "failed", "reason": "bank account closed"} == reopened[0]

    use_provider(monkeypatch, lambda method: Succeeds())  # staff refund it again from the queue
    assert payment_refund_duplicate(payment=second, actor=Actor.system("staff")).status == "succeeded"
    second.refresh_from_db()
    assert (second.status, second.review_status) == ("refunded", "resolved")


def test_a_failed_refund_on_an_ordinary_payment_opens_no_review(monkeypatch):
    use_provider(monkeypatch, lambda method: Accepts())
    payment = pay(GatewayPaymentFactory(), "pay_only")
    refund = payment_refund(payment=payment, actor=Actor.system("seller"))
    refund_mark_failed(refund=refund, actor=Actor.system("razorpay"), reason="declined")
    payment.refresh_from_db()
    assert payment.review_status == "" and not payment.events.filter(type="payment.review_reopened").exists()


def test_a_failed_part_refund_reopens_the_review_for_what_is_still_owed(paid_twice, monkeypatch):
    _, _, second = paid_twice
    use_provider(monkeypatch, lambda method: Accepts())
    stuck = payment_refund(payment=second, actor=Actor.system("seller"), amount_minor=100)
    use_provider(monkeypatch, lambda method: Succeeds())
    payment_refund_duplicate(payment=second, actor=Actor.system("staff"))  # the rest, at once
    refund_mark_failed(refund=stuck, actor=Actor.system("razorpay"), reason="declined")
    second.refresh_from_db()
    # The rest went back, but the 100 did not: the review opens for that.
    assert (second.status, second.review_status) == ("partially_refunded", "open")


# --- item 15: a refund request's claim is released on every error -------------------------

@pytest.mark.parametrize("error", [RuntimeError("bug"), ConnectionError("db went away"), KeyError("x")])
def test_a_refund_request_claim_is_released_on_any_error(monkeypatch, error):
    order = OrderFactory(partner_user_id="u@example.com")
    payment = pay(PaymentFactory(order=order, seller=order.seller), "3" * 64)
    request = refund_request_create(payment=payment, partner_user_id="u@example.com", reason="broken")

    def boom(**kwargs):
        raise error

    monkeypatch.setattr("payments.services.refunds.payment_refund", boom)
    with pytest.raises(type(error)):
        refund_request_decide(request=request, approve=True, actor=Actor.system("seller"))
    request.refresh_from_db()
    assert request.status == RefundRequest.Status.REQUESTED and request.decided_at is None
    assert not Refund.objects.exists()


# --- item 2: a refund in doubt stays pending and is reconciled -----------------------------

class Flaky:
    """A gateway whose refund call fails with `error` once, and that remembers refunds by key."""

    def __init__(self, error):
        self.error, self.keys, self.books = error, [], {}

    def refund(self, payment, amount_minor, *, idempotency_key):
        self.keys.append(idempotency_key)
        self.books.setdefault(idempotency_key, RefundResult(provider_refund_id=f"rf_{len(self.books)}",
                                                            status="succeeded"))
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        return self.books[idempotency_key]

    def refund_lookup(self, payment, *, refund_id, provider_refund_id=""):
        return self.books.get(refund_id)


@pytest.fixture
def gateway_payment(settings):
    from tests.factories import GatewayPaymentFactory

    settings.REFUND_RECONCILE_AFTER_SECONDS = 0
    payment = GatewayPaymentFactory(status="completed", tx_id="pay_X")
    Order.objects.filter(pk=payment.order_id).update(status="paid")
    return payment


@pytest.mark.parametrize("error", [ProviderUnavailable("timeout"), ProviderUnavailable("HTTP 503", status=503),
                                   ProviderUnavailable("HTTP 429", status=429)])
def test_a_refund_whose_call_failed_in_transit_stays_pending_then_reconciles_once(monkeypatch, gateway_payment,
                                                                                   error):
    gateway = Flaky(error)
    use_provider(monkeypatch, lambda method: gateway)
    refund = payment_refund(payment=gateway_payment, actor=Actor.system("seller"), amount_minor=100)
    assert Refund.objects.get(pk=refund.pk).status == "pending"
    assert gateway_payment.events.filter(type="refund.processing").exists()
    with pytest.raises(PaymentError, match="between 1 and"):   # the pending refund counts against what is left
        payment_refund(payment=gateway_payment, actor=Actor.system("seller"), amount_minor=gateway_payment.amount)
    assert refunds_reconcile_pending() == 1
    assert Refund.objects.get(pk=refund.pk).status == "succeeded"
    assert set(gateway.keys) == {str(refund.pk)} and len(gateway.books) == 1
    assert refunds_reconcile_pending() == 0


def test_a_refund_the_provider_never_received_is_resent_with_the_same_key(monkeypatch, gateway_payment):
    gateway = Flaky(None)
    original = gateway.refund

    def lost(payment, amount_minor, *, idempotency_key):   # the request never reached the gateway
        gateway.keys.append(idempotency_key)
        gateway.refund = original
        raise ProviderUnavailable("connection refused")

    gateway.refund = lost
    use_provider(monkeypatch, lambda method: gateway)
    refund = payment_refund(payment=gateway_payment, actor=Actor.system("seller"))
    assert refund.status == "pending" and gateway.books == {}
    refunds_reconcile_pending()
    assert Refund.objects.get(pk=refund.pk).status == "succeeded"
    assert gateway.keys == [str(refund.pk)] * 2 and len(gateway.books) == 1


def test_only_an_explicit_rejection_fails_a_refund(monkeypatch, gateway_payment):
    use_provider(monkeypatch, lambda method: Flaky(ProviderRejected("no", status=400)))
    refund = payment_refund(payment=gateway_payment, actor=Actor.system("seller"))
    assert Refund.objects.get(pk=refund.pk).status == "failed"


def test_the_dashboard_shows_a_pending_refund_as_processing(client, monkeypatch, gateway_payment):
    from tests.factories import MembershipFactory
    from tests.sellers.dashboard_helpers import login

    use_provider(monkeypatch, lambda method: Flaky(ProviderUnavailable("timeout")))
    payment_refund(payment=gateway_payment, actor=Actor.system("seller"), amount_minor=100)
    login(client, MembershipFactory(seller=gateway_payment.seller).user)
    body = client.get(f"/dashboard/orders/{gateway_payment.order_id}/").content.decode()
    assert "Processing" in body


@pytest.mark.parametrize("method", ["razorpay", "coinpay"])
def test_a_gateway_refund_is_never_sent_without_kassas_refund_id_as_its_key(gateway_payment, method):
    from payments.providers.registry import get_provider

    with pytest.raises(ValueError, match="idempotency key"):
        get_provider(method).refund(gateway_payment, 100, idempotency_key="")


def test_the_reconcile_tick_is_in_the_beat_schedule_on_the_ticks_queue(monkeypatch, gateway_payment):
    from config.celery_app import BEAT_SCHEDULE, TICKS_QUEUE, app
    from payments.tasks import reconcile_pending_refunds

    entry = next(e for e in BEAT_SCHEDULE.values() if e["task"] == "payments.tasks.reconcile_pending_refunds")
    assert app.amqp.router.route(entry.get("options", {}), entry["task"])["queue"].name == TICKS_QUEUE
    gateway = Flaky(ProviderUnavailable("timeout"))
    use_provider(monkeypatch, lambda method: gateway)
    refund = payment_refund(payment=gateway_payment, actor=Actor.system("seller"))
    assert reconcile_pending_refunds.delay().get() == 1
    assert Refund.objects.get(pk=refund.pk).status == "succeeded"

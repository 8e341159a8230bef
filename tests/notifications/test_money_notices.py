"""Each email a money event causes: sent at the right moment, to the right people, once."""
import pytest
from django.core import mail

from notifications.models import OutboxEmail, SellerEmailSettings
from orders.actors import Actor
from payments.models import Payment, Settlement
from payments.money import RAW_PER_MICRO_XNO
from payments.providers.base import Observation, RefundResult
from payments.providers.nano import RefundAnchor
from payments.services import (
    observation_apply,
    payment_expire_now,
    payment_refund,
    refund_nano_send_record,
    refund_request_create,
)
from payments.settlement import settlement_mark
from tests.factories import (
    GatewayPaymentFactory,
    MembershipFactory,
    OrderFactory,
    PaymentFactory,
    PayoutDestinationFactory,
    SellerFactory,
    UserFactory,
    nano_address,
)
from tests.services_patch import use_provider

pytestmark = pytest.mark.django_db
SHOPPER = nano_address("notice-shopper")


@pytest.fixture
def seller():
    seller = SellerFactory(name="Asha <Prints> & Co", support_email="help@asha.example")
    MembershipFactory(seller=seller, user=UserFactory(username="owner", email="owner@asha.example"))
    MembershipFactory(seller=seller, user=UserFactory(username="viewer", email="viewer@asha.example"), role="viewer")
    return seller


def send(payment, tx="A" * 64, micro=None):
    amount = (payment.amount_due if micro is None else micro) * RAW_PER_MICRO_XNO
    return observation_apply(observation=Observation(provider="nano", external_tx_id=tx, amount=amount, confirmed=True,
                                                     source_account=SHOPPER, pay_to=payment.pay_to))


def sent(kind):
    return [m for m in mail.outbox if OutboxEmail.objects.filter(kind=kind, subject=m.subject).exists()]


def test_completed_payment_sends_the_receipt_and_the_order_paid_notice_once(seller,
                                                                            django_capture_on_commit_callbacks):
    order = OrderFactory(seller=seller, reference="ASHA-1042", customer_email="shopper@example.com")
    payment = PaymentFactory(order=order)
    with django_capture_on_commit_callbacks(execute=True):
        send(payment)
        send(payment)  # the same fact again
    [receipt] = sent("receipt")
    assert receipt.to == ["shopper@example.com"]
    assert "ASHA-1042" in receipt.subject and "ASHA-1042" in receipt.body
    assert "Art print" in receipt.body and "₹499" in receipt.body and "Nano (XNO)" in receipt.body
    assert f"/checkout/{order.checkout_token}/done/" in receipt.body
    [notice] = sent("order_paid")
    assert notice.to == ["owner@asha.example"]  # owners and admins by default, not viewers
    assert OutboxEmail.objects.count() == 2


def test_no_customer_email_means_no_receipt(seller):
    send(PaymentFactory(order=OrderFactory(seller=seller, customer_email="")))
    assert not OutboxEmail.objects.filter(kind="receipt").exists()


def test_seller_settings_choose_recipients_digest_and_off(seller):
    viewer = seller.memberships.get(role="viewer").user
    config = SellerEmailSettings.objects.create(seller=seller, disabled_kinds=["money_attention"])
    config.recipients.set([viewer])
    payment = PaymentFactory(order=OrderFactory(seller=seller))
    send(payment)
    assert OutboxEmail.objects.get(kind="order_paid").to == ["viewer@asha.example"]
    payment.refresh_from_db()
    send(payment, tx="B" * 64, micro=1)  # extra money on a paid payment: overpaid, but turned off
    assert not OutboxEmail.objects.filter(kind="money_attention").exists()
    config.order_paid_mode = "digest"
    config.save()
    send(PaymentFactory(order=OrderFactory(seller=seller)), tx="C" * 64)
    assert OutboxEmail.objects.filter(kind="order_paid").count() == 1  # the digest covers it


def test_late_money_tells_the_shopper_and_the_seller(seller):
    payment = PaymentFactory(order=OrderFactory(seller=seller, reference="LATE-1"))
    payment_expire_now(payment=payment, actor=Actor.system("test"))
    send(payment)
    late = OutboxEmail.objects.get(kind="paid_late")
    assert late.to == ["shopper@example.com"] and "LATE-1" in late.text
    attention = OutboxEmail.objects.get(kind="money_attention")
    assert attention.to == ["owner@asha.example"] and "paid late" in attention.subject
    # The shared notice template escapes the seller's name in HTML and keeps it plain in text.
    assert "Asha &lt;Prints&gt; &amp; Co" in late.html and "<Prints>" not in late.html
    assert "Asha <Prints> & Co" in late.text


@pytest.mark.parametrize("code", ["duplicate", "overpaid"])
def test_money_that_needs_attention_tells_the_seller(seller, code):
    order = OrderFactory(seller=seller)
    if code == "duplicate":
        send(PaymentFactory(order=order), tx="D" * 64)
        send(PaymentFactory(order=order), tx="E" * 64)
    else:
        payment = GatewayPaymentFactory(order=order)
        observation_apply(observation=Observation(provider="razorpay", external_tx_id="pay_over", confirmed=True,
                                                  amount=payment.amount_due + 500, payment_ref=str(payment.pk)))
    attention = OutboxEmail.objects.get(kind="money_attention")
    assert code.replace("_", " ") in attention.subject and attention.to == ["owner@asha.example"]


def test_unmatched_money_on_the_sellers_address_tells_the_seller(seller):
    address = PayoutDestinationFactory(seller=seller).value
    observation_apply(observation=Observation(provider="nano", external_tx_id="F" * 64, amount=7 * RAW_PER_MICRO_XNO,
                                              confirmed=True, source_account=SHOPPER, pay_to=address))
    attention = OutboxEmail.objects.get(kind="money_attention")
    assert "unmatched" in attention.subject and address in attention.text


class _Succeeds:
    def refund(self, payment, amount_minor, **kwargs):
        return RefundResult(provider_refund_id="rfnd_1", status="succeeded")

    def refund_anchor(self, payment, shopper_account=""):
        return RefundAnchor(payment.pay_to, SHOPPER, 0)


def test_refund_succeeded_tells_the_shopper(seller, monkeypatch):
    use_provider(monkeypatch, lambda method: _Succeeds())
    payment = GatewayPaymentFactory(order=OrderFactory(seller=seller, reference="RF-1"))
    observation_apply(observation=Observation(provider="razorpay", external_tx_id="pay_1", confirmed=True,
                                              amount=payment.amount_due, payment_ref=str(payment.pk)))
    payment_refund(payment=payment, actor=Actor.system("test"), amount_minor=100)
    notice = OutboxEmail.objects.get(kind="refund_succeeded")
    assert notice.to == ["shopper@example.com"] and "₹1.00" in notice.subject and "RF-1" in notice.text


def test_nano_refund_awaiting_the_seller_then_succeeded(seller, monkeypatch):
    use_provider(monkeypatch, lambda method: _Succeeds())
    payment = PaymentFactory(order=OrderFactory(seller=seller))
    send(payment)
    payment.refresh_from_db()
    refund = payment_refund(payment=payment, actor=Actor.system("test"))
    assert refund.status == "awaiting_seller"
    waiting = OutboxEmail.objects.get(kind="refund_awaiting_seller")
    assert waiting.to == ["shopper@example.com"] and SHOPPER in waiting.text
    refund_nano_send_record(refund=refund, block_hash="9" * 64, actor=Actor.system("test"))
    assert OutboxEmail.objects.filter(kind="refund_succeeded").count() == 1


def test_partner_refund_request_tells_the_seller(seller):
    payment = PaymentFactory(order=OrderFactory(seller=seller, partner_user_id="u-1"))
    send(payment)
    refund_request_create(payment=Payment.objects.get(pk=payment.pk), partner_user_id="u-1", reason="Cracked frame")
    notice = OutboxEmail.objects.get(kind="refund_request")
    assert notice.to == ["owner@asha.example"] and "Cracked frame" in notice.text


def test_failed_settlement_tells_the_seller_once(seller):
    Settlement.objects.create(seller=seller, method="razorpay", kind="transfer", currency="INR", amount=97_500,
                              status="in_flight", provider_ref="trf_x")
    for _ in range(2):
        settlement_mark(method="razorpay", provider_ref="trf_x", status="failed", failure_reason="account inactive")
    notice = OutboxEmail.objects.get(kind="settlement_failed")
    assert notice.to == ["owner@asha.example"] and "account inactive" in notice.text and "₹975.00" in notice.text


def test_names_are_escaped_in_html_and_plain_in_text(seller):
    order = OrderFactory(seller=seller, items=False)
    order.items.create(name='<script>alert("x")</script>', unit_amount=order.amount, quantity=1)
    send(PaymentFactory(order=order))
    receipt = OutboxEmail.objects.get(kind="receipt")
    assert "<script>" not in receipt.html and "&lt;script&gt;" in receipt.html
    assert "Asha &lt;Prints&gt; &amp; Co" in receipt.html
    assert "Asha <Prints> & Co" in receipt.text and '<script>alert("x")</script>' in receipt.text
    assert "<img" not in receipt.html and "http://" not in receipt.html.split("<body")[0]
    assert 'width="600"' in receipt.html

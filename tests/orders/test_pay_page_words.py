"""The pay page after "Time is up", the method buttons, CoinPay's token and network, times with their
zone, and who reviews a late payment."""
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests import factories

pytestmark = pytest.mark.django_db

RAZORPAY_PARAMS = {"order_id": "order_Test0000000001", "checkout_url": "https://checkout.example/pay", "key_id": "k",
                   "amount": 49900, "currency": "INR", "name": "Print Shop", "description": "Order"}


def _pay_page(client, payment):
    token = payment.order.checkout_token
    return client.get(reverse("shop-pay", kwargs={"token": token, "method": payment.method})).content.decode()


def test_after_time_is_up_the_gateway_button_is_disabled_and_try_again_offered(client):
    payment = factories.GatewayPaymentFactory(checkout_params=RAZORPAY_PARAMS,
                                              expires_at=timezone.now() - timedelta(seconds=5))
    html = _pay_page(client, payment)
    assert "Time is up" in html
    button = html.split('data-testid="razorpay-pay"')[0].rsplit("<button", 1)[1] + html.split(
        'data-testid="razorpay-pay"')[1].split(">")[0]
    assert "disabled" in button
    try_again = html.split('id="try-again"')[1].split("</form>")[0]
    assert f'action="/checkout/{payment.order.checkout_token}/pay/razorpay/"' in html.split('id="try-again"')[1]
    assert "Try again" in try_again


def test_while_time_is_left_the_button_works_and_no_try_again(client):
    payment = factories.GatewayPaymentFactory(checkout_params=RAZORPAY_PARAMS)
    html = _pay_page(client, payment)
    button = html.split('data-testid="razorpay-pay"')[1].split(">")[0]
    assert "disabled" not in button and 'id="try-again" hidden' in html  # shown by kassa.js at zero


def test_coinpay_instructions_name_token_and_network(client):
    payment = factories.GatewayPaymentFactory(method="coinpay", checkout_params={
        "transaction_id": "tx1", "address": "0xabc", "amount": "499.00", "currency": "INR", "token": "USDC",
        "network": "polygon-amoy", "hosted_url": "https://coinpay.example/pay/tx1"})
    html = _pay_page(client, payment)
    assert "USDC" in html and "polygon-amoy network" in html


def test_method_buttons_say_what_each_is_and_differ(client):
    seller = factories.SellerFactory(enabled_methods=["nano", "razorpay", "coinpay"])
    factories.PayoutDestinationFactory(seller=seller)
    order = factories.OrderFactory(seller=seller)
    html = client.get(reverse("shop-checkout", kwargs={"token": order.checkout_token})).content.decode()
    assert "Cards, UPI and netbanking through Razorpay" in html
    assert "Crypto through CoinPay" in html
    assert "Nano (XNO)" in html
    assert html.count("btn btn-primary btn-lg btn-block method-btn") <= 1


def test_shopper_times_carry_their_zone(client):
    seller = factories.SellerFactory(timezone="Asia/Kolkata", enabled_methods=["nano"])
    factories.PayoutDestinationFactory(seller=seller)
    order = factories.OrderFactory(seller=seller, created_at=datetime(2026, 11, 25, 8, 35, tzinfo=UTC))
    html = client.get(reverse("shop-checkout", kwargs={"token": order.checkout_token})).content.decode()
    assert "Nov 25, 2026, 2:05\u202fPM IST" in html  # Babel's "en" format (no Accept-Language), with the zone


def test_paid_late_page_says_kassa_staff_review_it(client):
    from orders.actors import Actor
    from payments.services import payment_expire_now
    from tests.staff.conftest import nano_send

    payment = factories.PaymentFactory()
    payment_expire_now(payment=payment, actor=Actor.system("test"))
    nano_send(payment)
    html = client.get(reverse("shop-done", kwargs={"token": payment.order.checkout_token})).content.decode()
    assert "Payment arrived late" in html
    assert "Kassa’s payments team" in html and "will review it" not in html.split("Kassa’s payments team")[0][-80:]

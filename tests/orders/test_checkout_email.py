"""Checkout asks for the receipt's email: optional unless the seller requires it."""
import pytest

from notifications.models import SellerEmailSettings
from orders.models import Order, OrderEvent
from tests import factories
from tests.orders.test_shop_views import nano, shop, url  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(shop):  # noqa: F811
    return factories.OrderFactory(seller=shop, customer_email="")


def test_checkout_offers_an_optional_email_and_keeps_what_the_shopper_typed(client, order):
    page = client.get(url("shop-checkout", order)).content.decode()
    assert 'name="customer_email"' in page and "(optional)" in page and "required" not in page.split(
        'name="customer_email"')[1].split(">")[0]
    response = client.post(url("shop-pay", order, method="nano"), {"customer_email": "me@example.com"})
    assert response.status_code == 302
    assert Order.objects.get(pk=order.pk).customer_email == "me@example.com"
    assert OrderEvent.objects.filter(order=order, type="order.customer_email_set").exists()


def test_no_email_is_fine_when_the_seller_does_not_require_one(client, order):
    assert client.post(url("shop-pay", order, method="nano")).status_code == 302
    assert Order.objects.get(pk=order.pk).customer_email == ""


def test_a_seller_who_requires_an_email_gets_one_before_payment_starts(client, order, shop):  # noqa: F811
    SellerEmailSettings.objects.create(seller=shop, require_customer_email=True)
    response = client.post(url("shop-pay", order, method="nano"))
    assert response.status_code == 400 and b"Enter your email address for the receipt." in response.content
    assert not order.payments.exists()
    bad = client.post(url("shop-pay", order, method="nano"), {"customer_email": "not an email"})
    assert bad.status_code == 400 and not order.payments.exists()


def test_the_apis_customer_email_is_prefilled(client, shop):  # noqa: F811
    order = factories.OrderFactory(seller=shop, customer_email="api@example.com")
    assert 'value="api@example.com"' in client.get(url("shop-checkout", order)).content.decode()
    client.post(url("shop-pay", order, method="nano"), {"customer_email": "api@example.com"})
    assert not OrderEvent.objects.filter(order=order, type="order.customer_email_set").exists()


def test_a_partner_shopper_known_by_email_is_prefilled(client, shop):  # noqa: F811
    order = factories.OrderFactory(seller=shop, customer_email="", partner_user_id="user@example.com")
    assert 'value="user@example.com"' in client.get(url("shop-checkout", order)).content.decode()

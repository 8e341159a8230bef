"""Sellers filter orders and payments by partner user id over the API (issue 8)."""
import pytest

from tests import factories
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db


def test_orders_and_payments_filter_by_partner_user_id(seller, other_seller):
    mine = factories.PaymentFactory(order=factories.OrderFactory(seller=seller, partner_user_id="user@example.com"))
    factories.PaymentFactory(order=factories.OrderFactory(seller=seller, partner_user_id="other@example.com"))
    factories.PaymentFactory(order=factories.OrderFactory(seller=seller, partner_user_id=""))
    # Another seller's order for the same shopper stays invisible.
    factories.PaymentFactory(order=factories.OrderFactory(seller=other_seller, partner_user_id="user@example.com"))
    api = client_for(seller)
    orders = api.get("/api/v1/orders/", {"partner_user_id": "user@example.com"}).json()
    payments = api.get("/api/v1/payments/", {"partner_user_id": "user@example.com"}).json()
    assert [row["id"] for row in orders["results"]] == [str(mine.order_id)]
    assert [row["id"] for row in payments["results"]] == [str(mine.pk)]
    assert api.get("/api/v1/orders/").json()["count"] == 3

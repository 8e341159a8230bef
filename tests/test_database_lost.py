"""A database connection lost in the middle of a request (PostgreSQL restarted, or its backend ended by
pg_terminate_backend, as the soak does) answers 503 with Retry-After, never a 500: the client tries again
and the next request gets a fresh connection. Found by `make soak` (fault 5)."""
from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client

from orders.api import OrderCollectionApi
from sellers.services import api_key_create
from tests import factories

LOST = OperationalError("consuming input failed: server closed the connection unexpectedly")


@pytest.fixture
def seller(db):
    return factories.SellerFactory(slug="lost-db", enabled_methods=["nano"])


def test_a_page_whose_connection_dies_answers_503_with_retry_after(seller):
    client = Client(raise_request_exception=False)
    with mock.patch("orders.views_shop.storefront_products", side_effect=LOST):
        response = client.get(f"/s/{seller.slug}/")
    assert response.status_code == 503
    assert response["Retry-After"]


def test_an_api_call_whose_connection_dies_answers_503_in_the_api_error_shape(seller):
    client = Client(raise_request_exception=False)
    with mock.patch.object(OrderCollectionApi, "get", side_effect=LOST):
        response = client.get("/api/v1/orders/", HTTP_AUTHORIZATION=f"Bearer {api_key_create(seller=seller)[1]}")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert response["Retry-After"]

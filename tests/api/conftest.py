"""API test fixtures: a key per seller, an authenticated client, fake providers."""
import pytest
from rest_framework.test import APIClient

from payments.providers import registry
from sellers.services import api_key_create
from tests.api import fakes


@pytest.fixture(autouse=True)
def fake_providers(monkeypatch):
    monkeypatch.setitem(registry.PROVIDER_CLASSES, "nano", "tests.api.fakes.FakeNano")
    monkeypatch.setitem(registry.PROVIDER_CLASSES, "razorpay", "tests.api.fakes.FakeRazorpay")
    monkeypatch.setitem(registry.PROVIDER_CLASSES, "coinpay", "tests.api.fakes.FakeCoinPay")
    monkeypatch.setattr(fakes.FakeProvider, "refund_status", "succeeded")
    registry.reset_providers()
    yield fakes
    registry.reset_providers()


def client_for(seller) -> APIClient:
    _, key = api_key_create(seller=seller)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    client.api_key = key
    return client


@pytest.fixture
def api(seller) -> APIClient:
    return client_for(seller)


@pytest.fixture
def other_api(other_seller) -> APIClient:
    return client_for(other_seller)


ORDER_BODY = {"reference": "A-1", "currency": "INR", "customer_email": "x@y.z", "metadata": {"cart": "42"},
              "items": [{"name": "Art print", "unit_amount": 49900, "quantity": 2}]}


@pytest.fixture
def order_body() -> dict:
    import copy

    return copy.deepcopy(ORDER_BODY)

"""Fixtures for the partner super-app sign-in tests (issue 8)."""
from __future__ import annotations

import pytest
import responses as responses_lib

from tests import factories

VERIFY_URL = "https://partner.test/api/v1/verify-user-token"
API_KEY = "test-partner-key"


def verify_ok(user_id: str) -> dict:
    return {"status_code": 200, "result": "Operation Completed Successfully", "success": True, "data": {"id": user_id}}


@pytest.fixture
def partner_on(settings):
    settings.PARTNER_VERIFY_URL = VERIFY_URL
    settings.PARTNER_API_KEY = API_KEY
    settings.PARTNER_VERIFY_TIMEOUT = 0.5
    return settings


@pytest.fixture
def partner_api(partner_on):
    """The partner's verify endpoint, mocked at the HTTP layer (the real client code runs)."""
    with responses_lib.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def add_token(partner_api, token: str, *, status: int = 200, json=None, body=None, error: Exception | None = None):
    """Answer `token` (matched on the miniapp-user-token header) with the given response."""
    from responses import matchers

    match = [matchers.header_matcher({"miniapp-user-token": token})]
    if error is not None:
        partner_api.add(responses_lib.GET, VERIFY_URL, body=error, match=match)
    elif body is not None:
        partner_api.add(responses_lib.GET, VERIFY_URL, body=body, status=status, match=match)
    else:
        partner_api.add(responses_lib.GET, VERIFY_URL, json=json, status=status, match=match)


def sign_in(client, token: str, path: str = "/me/payments/"):
    """Enter the way the super-app does: a GET with ?partner_token=."""
    sep = "&" if "?" in path else "?"
    return client.get(f"{path}{sep}partner_token={token}")


@pytest.fixture
def fake_nano(monkeypatch):
    """A scriptable nano provider whose refunds succeed (tests.api.fakes)."""
    from payments.providers import registry

    monkeypatch.setitem(registry.PROVIDER_CLASSES, "nano", "tests.api.fakes.FakeNano")
    registry.reset_providers()
    yield
    registry.reset_providers()


def completed_payment(*, partner_user_id: str, seller=None, amount: int = 49900, **order_kwargs):
    from django.utils import timezone

    seller = seller or factories.SellerFactory()
    order = factories.OrderFactory(seller=seller, amount=amount, partner_user_id=partner_user_id, status="paid",
                                   paid_at=timezone.now(), **order_kwargs)
    return factories.PaymentFactory(order=order, status="completed", completed_at=timezone.now(),
                                    amount_reserved=False, amount_received=str(10**30))

"""The partner flow against the sandbox process over real HTTP (`sandbox_process`):
its /partner/verify twin, then buy → pay (sandbox Nano) → My payments → refund
request → seller approval → revocation."""
import time

import pytest
import requests
import time_machine

from orders.models import Order
from orders.partner import PartnerClient, PartnerUnavailable
from orders.partner_session import SESSION_KEY
from payments.models import Payment, RefundRequest
from payments.providers.registry import reset_providers
from tests import factories
from tests.partner.conftest import sign_in
from tests.sellers.dashboard_helpers import login

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def partner_sandbox(sandbox_process, settings):
    settings.PARTNER_VERIFY_URL = f"{sandbox_process}/partner/verify"
    settings.PARTNER_API_KEY = "sandbox_partner_key"
    settings.PARTNER_VERIFY_TIMEOUT = 0.5
    return sandbox_process


@pytest.mark.parametrize(("token", "expected"), [
    ("sandbox-user-token", "user@example.com"),
    ("sandbox-other-token", "other@example.com"),
    ("sandbox-expired-token", ""),
    ("sandbox-noid-token", ""),
    ("no-such-token", ""),
])
def test_sandbox_known_tokens(partner_sandbox, token, expected):
    assert PartnerClient().verify(token).user_id == expected


@pytest.mark.parametrize("token", ["sandbox-error-token", "sandbox-slow-token"])
def test_sandbox_error_and_slow_tokens_are_unavailable(partner_sandbox, token):
    with pytest.raises(PartnerUnavailable):
        PartnerClient().verify(token)


def test_wrong_api_key_is_refused(partner_sandbox, settings):
    settings.PARTNER_API_KEY = "wrong"
    assert not PartnerClient().verify("sandbox-user-token").ok


def test_full_flow_over_http(partner_sandbox, client, settings):
    settings.SANDBOX_MODE = True
    reset_providers()
    seller = factories.SellerFactory(slug="lotus", name="Lotus Prints", enabled_methods=["nano"])
    factories.PayoutDestinationFactory(seller=seller, method="nano")
    product = factories.ProductFactory(seller=seller, name="Lotus print", unit_amount=49900)
    issued = requests.post(f"{partner_sandbox}/partner/_issue", json={"id": "flow@example.com"}, timeout=5)
    token = issued.json()["token"]

    # Enter from the app, buy, pay with the sandbox Nano node.
    entry = sign_in(client, token, "/s/lotus/")
    assert entry["Location"] == "/s/lotus/" and client.session[SESSION_KEY]["uid"] == "flow@example.com"
    client.post("/s/lotus/buy/", {"product": product.pk, "quantity": 1})
    order = Order.objects.get()
    assert order.partner_user_id == "flow@example.com"
    client.post(f"/checkout/{order.checkout_token}/pay/nano/")
    client.post(f"/checkout/{order.checkout_token}/simulate/", {"method": "nano"})
    payment = Payment.objects.get(order=order)
    assert payment.status == "completed", payment.status

    # My payments and the order activity.
    page = client.get("/me/payments/").content.decode()
    assert "Lotus Prints" in page and "Completed" in page
    activity = client.get(f"/me/orders/{order.pk}/")
    assert "Payment completed" in [event["label"] for event in activity.context["events"]]

    # Refund request → seller approves → the normal refund service ran.
    client.post(f"/me/payments/{payment.pk}/refund-request/", {"reason": "Wrong size"})
    request = RefundRequest.objects.get(payment=payment)
    seller_client = login(client.__class__(), factories.MembershipFactory(seller=seller).user)
    seller_client.post(f"/dashboard/refund-requests/{request.pk}/decide/", {"decision": "approve", "confirm": "yes"})
    payment.refresh_from_db()
    # Nano is non-custodial: the approved refund waits for the seller's own send.
    assert payment.status == "completed" and payment.refunds.get().status == "awaiting_seller"
    labels = [event["label"] for event in client.get(f"/me/orders/{order.pk}/").context["events"]]
    assert "The seller approved your refund request" in labels

    # The app revokes the token; once the session lapses, coming back with it is verified again and refused.
    requests.post(f"{partner_sandbox}/partner/_revoke", json={"token": token}, timeout=5)
    with time_machine.travel(time.time() + settings.PARTNER_SESSION_SECONDS + 1):
        assert client.get("/me/payments/").status_code == 403
        sign_in(client, token, "/me/payments/")
        assert client.get("/me/payments/").status_code == 403

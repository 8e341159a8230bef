"""The Razorpay checkout callback and the gateway fallback poll."""
from datetime import timedelta

import pytest
import responses
from django.utils import timezone

from payments.models import LedgerEntry, Payment
from payments.monitor_gateways import tick_coinpay, tick_razorpay
from payments.providers.errors import ProviderUnavailable
from payments.providers.registry import reset_providers
from payments.providers.signatures import razorpay_payment_signature
from tests.factories import GatewayPaymentFactory

pytestmark = pytest.mark.django_db
RZP, CP = "https://rzp.test", "https://coinpay.test"


@pytest.fixture(autouse=True)
def gateway(settings):
    settings.RAZORPAY_API_URL, settings.RAZORPAY_KEY_SECRET = RZP, "key_secret"
    settings.COINPAY_API_URL = CP
    settings.GATEWAY_POLL_AFTER_MINUTES, settings.GATEWAY_POLL_CAP_PER_TICK = 5, 2
    reset_providers()
    yield
    reset_providers()


def captured(payment, pay_id="pay_Abc1234567890X", status="captured"):
    return {"id": pay_id, "entity": "payment", "amount": payment.amount_due, "currency": payment.pay_currency,
            "status": status, "order_id": payment.provider_ref, "notes": {}}


@responses.activate
def test_callback_verifies_against_stored_order_then_redirects_to_done(client):
    payment = GatewayPaymentFactory(provider_ref="order_Test0000000001")
    responses.get(f"{RZP}/v1/payments/pay_Abc1234567890X", json=captured(payment))
    token = payment.order.checkout_token
    response = client.post(f"/checkout/{token}/pay/razorpay/callback/", {
        "razorpay_payment_id": "pay_Abc1234567890X", "razorpay_order_id": "order_Test0000000001",
        "razorpay_signature": razorpay_payment_signature("order_Test0000000001", "pay_Abc1234567890X", "key_secret")})
    assert response.status_code == 302 and response["Location"] == f"/checkout/{token}/done/"
    payment.refresh_from_db()
    assert payment.status == "completed" and LedgerEntry.objects.filter(payment=payment).count() == 1


def test_callback_with_forged_signature_is_400_and_changes_nothing(client):
    payment = GatewayPaymentFactory(provider_ref="order_Test0000000001")
    with responses.RequestsMock():  # must not even fetch
        response = client.post(f"/checkout/{payment.order.checkout_token}/pay/razorpay/callback/", {
            "razorpay_payment_id": "pay_X", "razorpay_order_id": "order_Test0000000001",
            "razorpay_signature": razorpay_payment_signature("order_Test0000000001", "pay_X", "not-our-secret")})
    assert response.status_code == 400
    payment.refresh_from_db()
    assert payment.status == "pending"


def test_callback_with_posted_order_id_of_someone_else_uses_our_stored_one(client):
    mine = GatewayPaymentFactory(provider_ref="order_Mine0000000001")
    theirs = GatewayPaymentFactory(provider_ref="order_Theirs00000001")
    # A valid signature for THEIR order, posted on MY checkout: selects nothing of theirs.
    signature = razorpay_payment_signature("order_Theirs00000001", "pay_X", "key_secret")
    response = client.post(f"/checkout/{mine.order.checkout_token}/pay/razorpay/callback/", {
        "razorpay_payment_id": "pay_X", "razorpay_order_id": "order_Theirs00000001", "razorpay_signature": signature})
    assert response.status_code == 400
    assert Payment.objects.get(pk=theirs.pk).status == "pending"


def test_callback_failure_fields_just_redirect(client):
    payment = GatewayPaymentFactory(provider_ref="order_Test0000000001")
    response = client.post(f"/checkout/{payment.order.checkout_token}/pay/razorpay/callback/",
                           {"error[code]": "BAD_REQUEST_ERROR"})
    assert response.status_code == 302
    payment.refresh_from_db()
    assert payment.status == "pending"  # the browser's word is never trusted


def test_callback_unknown_token_404(client):
    assert client.post("/checkout/nope/pay/razorpay/callback/", {}).status_code == 404


# --- fallback poll ----------------------------------------------------------------------

def stale(**kwargs):
    return GatewayPaymentFactory(created_at=timezone.now() - timedelta(minutes=10), **kwargs)


@responses.activate
def test_poll_completes_stale_payments_without_webhook_capped_per_tick():
    payments = [stale(provider_ref=f"order_Poll000000000{i}") for i in range(3)]
    fresh = GatewayPaymentFactory(provider_ref="order_Fresh00000001")
    hooked = stale(provider_ref="order_Hooked0000001", last_webhook_at=timezone.now())
    for i, payment in enumerate(payments):
        responses.get(f"{RZP}/v1/orders/{payment.provider_ref}/payments",
                      json={"items": [captured(payment, pay_id=f"pay_Poll{i}")]})
    first = tick_razorpay()
    second = tick_razorpay()
    assert (first["polled"], second["polled"]) == (2, 1)  # cap 2 per tick, then the rest
    assert all(p.status == "completed" for p in Payment.objects.filter(pk__in=[p.pk for p in payments]))
    assert Payment.objects.get(pk=fresh.pk).last_polled_at is None
    assert Payment.objects.get(pk=hooked.pk).last_polled_at is None
    assert tick_razorpay()["polled"] == 0


@responses.activate
def test_poll_covers_pending_payment_whose_last_webhook_is_old():
    """A failed attempt's webhook long ago says nothing about a later attempt: poll it."""
    payment = stale(provider_ref="order_Retry00000001", last_webhook_at=timezone.now() - timedelta(minutes=10))
    responses.get(f"{RZP}/v1/orders/{payment.provider_ref}/payments",
                  json={"items": [captured(payment, pay_id="pay_Failed00000001", status="failed"),
                                  captured(payment, pay_id="pay_Second00000001")]})
    assert tick_razorpay()["polled"] == 1
    payment.refresh_from_db()
    assert payment.status == "completed" and payment.tx_id == "pay_Second00000001"


@responses.activate
def test_confirming_payment_is_polled_at_once_then_not_again_until_stale():
    payment = GatewayPaymentFactory(provider_ref="order_Conf000000001", status="confirming",
                                    last_webhook_at=timezone.now())
    responses.get(f"{RZP}/v1/orders/{payment.provider_ref}/payments",
                  json={"items": [captured(payment, status="authorized")]})
    responses.post(f"{RZP}/v1/payments/pay_Abc1234567890X/capture", status=400,
                   json={"error": {"code": "BAD_REQUEST_ERROR", "description": "Only authorized payments"}})
    responses.get(f"{RZP}/v1/payments/pay_Abc1234567890X", json=captured(payment, status="authorized"))
    assert tick_razorpay()["polled"] == 1
    assert Payment.objects.get(pk=payment.pk).status == "confirming"
    assert tick_razorpay()["polled"] == 0  # claimed: next look after GATEWAY_POLL_AFTER_MINUTES


@responses.activate
def test_poll_captures_authorized_payment():
    payment = stale(provider_ref="order_Auth000000001")
    responses.get(f"{RZP}/v1/orders/{payment.provider_ref}/payments",
                  json={"items": [captured(payment, status="authorized")]})
    responses.post(f"{RZP}/v1/payments/pay_Abc1234567890X/capture", json=captured(payment))
    tick_razorpay()
    payment.refresh_from_db()
    assert payment.status == "completed"


@responses.activate
def test_poll_when_gateway_down_raises_and_changes_nothing(monkeypatch):
    monkeypatch.setattr("payments.providers.http.time.sleep", lambda s: None)
    payment = stale(provider_ref="order_Down000000001")
    responses.get(f"{RZP}/v1/orders/{payment.provider_ref}/payments", status=503)
    with pytest.raises(ProviderUnavailable):
        tick_razorpay()
    payment.refresh_from_db()
    assert payment.status == "pending"


@responses.activate
def test_coinpay_poll(settings):
    settings.COINPAY_USERNAME, settings.COINPAY_PASSWORD = "u", "p"
    payment = stale(method="coinpay", provider_ref="tx_poll")
    responses.post(f"{CP}/api/auth/login", json={"token": "t", "expiresIn": 60})
    responses.get(f"{CP}/api/transactions/tx_poll", json={"transactionId": "tx_poll", "status": "Failed",
                                                          "currency": payment.currency, "amount": "1"})
    assert tick_coinpay()["polled"] == 1
    payment.refresh_from_db()
    assert payment.status == "failed"

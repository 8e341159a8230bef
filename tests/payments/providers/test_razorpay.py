"""RazorpayProvider against recorded API shapes, cross-checked with the official SDK."""
import base64
import json
from pathlib import Path

import pytest
import razorpay
import responses
from razorpay.errors import SignatureVerificationError

from payments.providers.errors import ProviderRejected, ProviderUnavailable, SignatureInvalid, VerificationFailed
from payments.providers.registry import get_provider
from payments.providers.signatures import hmac_sha256_hex, razorpay_payment_signature, razorpay_payment_signature_valid
from tests.factories import GatewayPaymentFactory, OrderFactory
from tests.payments.providers.conftest import RZP

FIXTURES = Path(__file__).parent / "fixtures"


def entity(**overrides):
    base = {"id": "pay_Abc1234567890X", "entity": "payment", "amount": 49900, "currency": "INR",
            "status": "captured", "order_id": "order_Test0000000001", "method": "upi", "notes": {}}
    return {**base, **overrides}


# --- signatures: published vectors and the SDK -------------------------------------------

def test_payment_signature_matches_sdk_published_vector():
    # razorpay-python tests/test_client_utility.py: secret "key_secret".
    expected = "b2335e3b0801106b84a7faff035df56ecffde06918c9ddd1f0fafbb37a51cc89"
    assert razorpay_payment_signature("fake_order_id", "fake_payment_id", "key_secret") == expected
    assert razorpay_payment_signature_valid("fake_order_id", "fake_payment_id", expected, "key_secret")
    assert not razorpay_payment_signature_valid("fake_order_id", "fake_payment_id", "test_signature", "key_secret")


def test_webhook_signature_matches_sdk_published_vector(settings):
    # The SDK's fake_payment_authorized_webhook.json, byte for byte, signed with "key_secret".
    body = (FIXTURES / "razorpay_sdk_payment_authorized_webhook.json").read_bytes()
    signature = "d60e67fd884556c045e9be7dad57903e33efc7172c17c6e3ef77db42d2b366e9"
    assert hmac_sha256_hex("key_secret", body) == signature
    settings.RAZORPAY_WEBHOOK_SECRET = "key_secret"
    event = get_provider("razorpay").parse_event(body, {"x-razorpay-signature": signature})
    assert event.type == "payment.authorized"
    assert event.observations[0].external_tx_id == "pay_6koWN7bvxujzxM"


@pytest.mark.parametrize("order_id,payment_id", [("order_9A33XWu170gUtm", "pay_29QQoUBi66xm2f"), ("o", "p|q")])
def test_our_signatures_agree_with_sdk(order_id, payment_id):
    client = razorpay.Client(auth=("rzp_test_key", "s3cret"))
    ours = razorpay_payment_signature(order_id, payment_id, "s3cret")
    assert client.utility.verify_payment_signature({"razorpay_order_id": order_id, "razorpay_payment_id": payment_id,
                                                    "razorpay_signature": ours})
    body = json.dumps({"event": "payment.captured", "payload": {"payment": {"entity": entity()}}})
    assert client.utility.verify_webhook_signature(body, hmac_sha256_hex("whsec", body), "whsec")
    with pytest.raises(SignatureVerificationError):
        client.utility.verify_webhook_signature(body + " ", hmac_sha256_hex("whsec", body), "whsec")


# --- start -------------------------------------------------------------------------------

@responses.activate
@pytest.mark.django_db
def test_start_creates_order_in_paise_with_short_unique_receipt_and_notes():
    responses.post(f"{RZP}/v1/orders", json={"id": "order_NEW00000000001", "entity": "order", "status": "created"})
    payment = GatewayPaymentFactory(order=OrderFactory(amount=49900), provider_ref="")
    other = GatewayPaymentFactory(order=payment.order, provider_ref="")
    instructions = get_provider("razorpay").start(payment)
    get_provider("razorpay").start(other)
    first, second = (json.loads(call.request.body) for call in responses.calls)
    assert first["amount"] == 49900 and first["currency"] == "INR"
    assert len(first["receipt"]) <= 40 and first["receipt"] != second["receipt"]
    assert first["notes"] == {"kassa_order_id": str(payment.order.pk), "kassa_payment_id": str(payment.pk)}
    auth = responses.calls[0].request.headers["Authorization"]
    assert base64.b64decode(auth.split()[1]).decode() == "rzp_test_key:key_secret"
    assert instructions.provider_ref == "order_NEW00000000001"
    assert instructions.checkout_params["callback_url"] == (
        f"https://kassa.test/checkout/{payment.order.checkout_token}/pay/razorpay/callback/")


@pytest.mark.django_db
def test_start_refuses_amount_below_minimum_without_calling_razorpay():
    payment = GatewayPaymentFactory(order=OrderFactory(amount=99), provider_ref="")
    with responses.RequestsMock(), pytest.raises(ProviderRejected):
        get_provider("razorpay").start(payment)


@responses.activate
@pytest.mark.django_db
def test_start_4xx_is_rejected_without_retry(no_sleep):
    responses.post(f"{RZP}/v1/orders", status=400,
                   json={"error": {"code": "BAD_REQUEST_ERROR", "description": "Order amount less than minimum"}})
    with pytest.raises(ProviderRejected) as info:
        get_provider("razorpay").start(GatewayPaymentFactory(provider_ref=""))
    assert len(responses.calls) == 1 and no_sleep == []
    assert info.value.provider_code == "BAD_REQUEST_ERROR"


@responses.activate
@pytest.mark.django_db
def test_start_retries_5xx_with_backoff_then_succeeds(no_sleep):
    responses.post(f"{RZP}/v1/orders", status=502)
    responses.post(f"{RZP}/v1/orders", status=503)
    responses.post(f"{RZP}/v1/orders", json={"id": "order_AfterRetry0001"})
    assert get_provider("razorpay").start(GatewayPaymentFactory(provider_ref="")).provider_ref == "order_AfterRetry0001"
    assert len(responses.calls) == 3 and len(no_sleep) == 2
    assert all(0 <= delay <= 2.0 for delay in no_sleep)


@responses.activate
@pytest.mark.django_db
def test_start_gives_up_as_unavailable(no_sleep):
    responses.post(f"{RZP}/v1/orders", status=500)
    with pytest.raises(ProviderUnavailable):
        get_provider("razorpay").start(GatewayPaymentFactory(provider_ref=""))
    assert len(responses.calls) == 3


# --- handler verify ---------------------------------------------------------------------

@responses.activate
@pytest.mark.django_db
def test_verify_checks_stored_order_id_then_captures_authorized_payment():
    payment = GatewayPaymentFactory(provider_ref="order_Test0000000001")
    responses.get(f"{RZP}/v1/payments/pay_Abc1234567890X", json=entity(status="authorized"))
    responses.post(f"{RZP}/v1/payments/pay_Abc1234567890X/capture", json=entity(status="captured"))
    signature = razorpay_payment_signature("order_Test0000000001", "pay_Abc1234567890X", "key_secret")
    [obs] = get_provider("razorpay").verify(payment, f"pay_Abc1234567890X:{signature}")
    assert obs.confirmed and obs.external_tx_id == "pay_Abc1234567890X" and obs.amount == 49900
    assert json.loads(responses.calls[1].request.body) == {"amount": 49900, "currency": "INR"}


@pytest.mark.django_db
def test_verify_rejects_signature_made_for_another_order():
    payment = GatewayPaymentFactory(provider_ref="order_Test0000000001")
    forged = razorpay_payment_signature("order_Attacker000001", "pay_Abc1234567890X", "key_secret")
    with responses.RequestsMock(), pytest.raises(SignatureInvalid):
        get_provider("razorpay").verify(payment, f"pay_Abc1234567890X:{forged}")


@pytest.mark.django_db
def test_verify_rejects_malformed_reference():
    with pytest.raises(VerificationFailed):
        get_provider("razorpay").verify(GatewayPaymentFactory(), "just-one-part")


@responses.activate
@pytest.mark.django_db
def test_verify_rejects_payment_of_another_order_even_with_valid_signature():
    payment = GatewayPaymentFactory(provider_ref="order_Test0000000001")
    responses.get(f"{RZP}/v1/payments/pay_Abc1234567890X", json=entity(order_id="order_Other000000001"))
    signature = razorpay_payment_signature("order_Test0000000001", "pay_Abc1234567890X", "key_secret")
    with pytest.raises(VerificationFailed):
        get_provider("razorpay").verify(payment, f"pay_Abc1234567890X:{signature}")


# --- webhooks ----------------------------------------------------------------------------

def signed(body: dict, secret="webhook_secret", event_id="evt_1"):
    raw = json.dumps(body).encode()
    return raw, {"X-Razorpay-Signature": hmac_sha256_hex(secret, raw), "X-Razorpay-Event-Id": event_id}


@pytest.mark.parametrize("status,confirmed,failed", [("authorized", False, False), ("captured", True, False),
                                                     ("failed", False, True)])
def test_webhook_payment_events_become_observations(status, confirmed, failed):
    raw, headers = signed({"event": f"payment.{status}", "payload": {"payment": {"entity": entity(status=status)}}})
    event = get_provider("razorpay").parse_event(raw, headers)
    [obs] = event.observations
    assert (obs.confirmed, obs.failed) == (confirmed, failed)
    assert obs.external_tx_id == "pay_Abc1234567890X" and obs.provider_ref == "order_Test0000000001"
    assert event.event_id == "evt_1"


def test_webhook_tampered_body_is_rejected():
    raw, headers = signed({"event": "payment.captured", "payload": {"payment": {"entity": entity()}}})
    with pytest.raises(SignatureInvalid):
        get_provider("razorpay").parse_event(raw.replace(b"49900", b"99900"), headers)


def test_webhook_event_id_falls_back_to_body_hash():
    raw, headers = signed({"event": "payment.captured", "payload": {}})
    del headers["X-Razorpay-Event-Id"]
    assert get_provider("razorpay").parse_event(raw, headers).event_id.startswith("sha256:")


def test_webhook_refund_and_transfer_events():
    provider = get_provider("razorpay")
    raw, headers = signed({"event": "refund.processed", "payload": {"refund": {"entity": {
        "id": "rfnd_1", "amount": 100, "notes": {"kassa_refund_id": "abc"}}}}})
    assert provider.parse_event(raw, headers).refund.status == "succeeded"
    raw, headers = signed({"event": "transfer.failed", "payload": {"transfer": {"entity": {
        "id": "trf_1", "notes": {"kassa_settlement_id": "7"}, "error": {"description": "not activated"}}}}})
    update = provider.parse_event(raw, headers).settlement
    assert (update.status, update.kassa_settlement_id, update.failure_reason) == ("failed", "7", "not activated")


# --- refunds -----------------------------------------------------------------------------

@responses.activate
@pytest.mark.django_db
def test_refund_sends_idempotency_header_and_amount():
    payment = GatewayPaymentFactory(tx_id="pay_Abc1234567890X", status="completed")
    responses.post(f"{RZP}/v1/payments/pay_Abc1234567890X/refund",
                   json={"id": "rfnd_X", "entity": "refund", "amount": 100, "status": "pending"})
    result = get_provider("razorpay").refund(payment, 100, idempotency_key="0f6c4b8e-refund-key")
    request = responses.calls[0].request
    assert request.headers["X-Refund-Idempotency"] == "0f6c4b8e-refund-key"
    assert json.loads(request.body)["amount"] == 100
    assert (result.provider_refund_id, result.status) == ("rfnd_X", "pending")

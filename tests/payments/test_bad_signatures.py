"""A bad signature is a 400 wherever one is checked, whatever its characters: both
inbound webhooks, the Razorpay checkout callback and the API's verify. A non-ASCII
value used to reach hmac.compare_digest as str and answer 500."""
import json
from urllib.parse import quote_from_bytes

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from payments.models import InboundWebhook
from payments.providers.registry import reset_providers
from payments.providers.signatures import hmac_matches, hmac_sha256_hex
from sellers.services import api_key_create
from tests.factories import GatewayPaymentFactory

pytestmark = pytest.mark.django_db
HYPOTHESIS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Text of any kind, and raw bytes as a WSGI server hands them over (decoded as latin-1).
SIGNATURES = st.one_of(st.text(max_size=80), st.binary(max_size=80).map(lambda raw: raw.decode("latin-1")))
BODY = b'{"event":"payment.captured","payload":{}}'


@pytest.fixture(autouse=True)
def gateways(settings):
    settings.RAZORPAY_API_URL, settings.RAZORPAY_KEY_SECRET = "https://rzp.test", "key_secret"
    settings.RAZORPAY_WEBHOOK_SECRET, settings.COINPAY_WEBHOOK_SECRET = "rzp_whsec", "cp_whsec"
    settings.API_THROTTLE_RATE = "100000/min"
    reset_providers()
    yield
    reset_providers()


@pytest.fixture
def payment():
    return GatewayPaymentFactory(provider_ref="order_Test0000000001")


def webhook(provider: str, signature: str):
    header = "HTTP_X_RAZORPAY_SIGNATURE" if provider == "razorpay" else "HTTP_X_SIGNATURE"
    return Client().post(f"/webhooks/{provider}/", data=BODY, content_type="application/json",
                         **{header: signature})


def callback(payment, signature: str | bytes):
    raw = signature if isinstance(signature, bytes) else signature.encode("utf-8", "surrogatepass")
    body = (f"razorpay_payment_id=pay_Abc1234567890X&razorpay_order_id={payment.provider_ref}"
            f"&razorpay_signature={quote_from_bytes(raw)}")
    return Client().post(f"/checkout/{payment.order.checkout_token}/pay/razorpay/callback/", data=body,
                         content_type="application/x-www-form-urlencoded")


def api_verify(payment, signature: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(seller=payment.seller)[1]}")
    return client.post(f"/api/v1/payments/{payment.pk}/verify/",
                       data=json.dumps({"reference": f"pay_Abc1234567890X:{signature}"}),
                       content_type="application/json")


# --- the repro from the report, one per entry point -----------------------------------------

@pytest.mark.parametrize("provider", ["razorpay", "coinpay"])
def test_non_ascii_webhook_signature_is_400_and_kept_for_audit(provider):
    """curl -X POST -H $'X-Signature: \\xe9' -d '{}' http://127.0.0.1:8000/webhooks/coinpay/"""
    response = webhook(provider, "\xe9")
    assert response.status_code == 400 and response.json()["error"]["code"] == "signature_invalid"
    assert InboundWebhook.objects.get().status == "invalid"


def test_non_ascii_callback_signature_is_400(payment):
    assert callback(payment, "é" * 64).status_code == 400
    payment.refresh_from_db()
    assert payment.status == "pending"


def test_non_ascii_api_verify_signature_is_400(payment):
    response = api_verify(payment, "\u00e9" * 64)
    assert response.status_code == 400 and response.json()["error"]["code"] == "signature_invalid"


def test_hmac_matches_is_false_for_any_non_ascii_or_bytes_value():
    assert not hmac_matches("secret", b"body", "\xe9")
    assert not hmac_matches("secret", b"body", b"\xe9\xff")
    assert not hmac_matches("secret", b"body", "\ud800")
    good = hmac_sha256_hex("secret", b"body")
    assert hmac_matches("secret", b"body", f" {good.upper()} ") and hmac_matches("secret", b"body", good.encode())


# --- arbitrary text and bytes ----------------------------------------------------------------

@HYPOTHESIS
@given(signature=SIGNATURES)
@pytest.mark.parametrize("provider", ["razorpay", "coinpay"])
def test_any_webhook_signature_is_400(provider, signature):
    assert webhook(provider, signature).status_code == 400


@HYPOTHESIS
@given(signature=st.one_of(st.text(max_size=80), st.binary(max_size=80)))
def test_any_callback_signature_is_400(payment, signature):
    # Empty after stripping means "no payment" (a cancelled checkout): a redirect, not an error.
    blank = not (signature if isinstance(signature, str) else signature.decode("utf-8", "replace")).strip()
    assert callback(payment, signature).status_code == (302 if blank else 400)


@HYPOTHESIS
@given(signature=SIGNATURES)
def test_any_api_verify_signature_is_400(payment, signature):
    assert api_verify(payment, signature).status_code == 400

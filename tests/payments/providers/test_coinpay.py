"""CoinPayProvider: JWT login caching and re-login, retries, amounts, webhooks."""
import json

import pytest
import responses

from payments.providers.coinpay import to_minor
from payments.providers.errors import ProviderRejected, ProviderUnavailable, SignatureInvalid
from payments.providers.registry import get_provider
from payments.providers.signatures import hmac_sha256_hex
from tests.factories import GatewayPaymentFactory, OrderFactory
from tests.payments.providers.conftest import CP

pytestmark = pytest.mark.django_db


def login(token="tok-1", minutes=60):
    return responses.post(f"{CP}/api/auth/login", json={"token": token, "expiresIn": minutes})


def coinpay_payment(**kwargs):
    return GatewayPaymentFactory(method="coinpay", order=OrderFactory(amount=49950, currency="USD"),
                                 provider_ref=kwargs.pop("provider_ref", "tx_1"), **kwargs)


@responses.activate
def test_start_logs_in_once_and_sends_major_units_with_our_ids():
    login_call = login()
    responses.post(f"{CP}/api/transactions", json={"transactionId": "tx_9", "amount": "499.50", "currency": "USD",
                                                   "receiverAddress": "0xabc", "status": "Pending"})
    provider = get_provider("coinpay")
    payment = coinpay_payment(provider_ref="")
    instructions = provider.start(payment)
    provider.start(coinpay_payment(provider_ref=""))
    assert login_call.call_count == 1  # cached until expiresIn
    body = json.loads(responses.calls[1].request.body)
    assert body["amount"] == "499.50" and body["currency"] == "USD"
    assert body["metadata"] == {"orderId": str(payment.order.pk), "paymentId": str(payment.pk)}
    assert responses.calls[1].request.headers["Authorization"] == "Bearer tok-1"
    assert instructions.provider_ref == "tx_9" and instructions.pay_to == "0xabc"


@responses.activate
def test_expired_token_is_renewed(monkeypatch):
    login_call = login(minutes=0)  # expires at once (minus the safety margin)
    responses.get(f"{CP}/api/transactions/tx_1", json={"transactionId": "tx_1", "status": "Pending"})
    provider = get_provider("coinpay")
    provider.poll([coinpay_payment()])
    provider.poll([coinpay_payment()])
    assert login_call.call_count == 2


@responses.activate
def test_401_relogs_in_once_then_gives_up():
    login_call = login()
    responses.get(f"{CP}/api/transactions/tx_1", status=401, json={"message": "expired"})
    responses.get(f"{CP}/api/transactions/tx_1", json={"transactionId": "tx_1", "status": "Completed",
                                                       "amount": "499.50", "currency": "USD"})
    [obs] = get_provider("coinpay").poll([coinpay_payment()])
    assert obs.confirmed and obs.amount == 49950 and login_call.call_count == 2

    responses.replace(responses.GET, f"{CP}/api/transactions/tx_1", status=401, json={"message": "nope"})
    with pytest.raises(ProviderRejected) as info:
        get_provider("coinpay").poll([coinpay_payment()])
    assert info.value.status == 401 and login_call.call_count == 3  # one re-login, not a loop


@responses.activate
def test_5xx_retried_4xx_not(no_sleep):
    login()
    get = responses.get(f"{CP}/api/transactions/tx_1", status=503)
    with pytest.raises(ProviderUnavailable):
        get_provider("coinpay").poll([coinpay_payment()])
    assert get.call_count == 3 and len(no_sleep) == 2
    responses.replace(responses.GET, f"{CP}/api/transactions/tx_1", status=404, json={"message": "not found"})
    no_sleep.clear()
    with pytest.raises(ProviderRejected):
        get_provider("coinpay").poll([coinpay_payment()])
    assert no_sleep == []


@responses.activate
def test_timeouts_are_retried_then_unavailable(no_sleep):
    import requests

    login()
    responses.get(f"{CP}/api/transactions/tx_1", body=requests.Timeout("slow"))
    with pytest.raises(ProviderUnavailable):
        get_provider("coinpay").poll([coinpay_payment()])
    assert len(no_sleep) == 2


def test_amounts_convert_exactly():
    assert to_minor("499.50", "USD") == 49950
    assert to_minor("0.1", "USD") == 10
    assert to_minor(12, "INR") == 1200
    with pytest.raises(ValueError):
        to_minor("1.005", "USD")


def _signed(event: dict, secret="cp_secret"):
    raw = json.dumps(event).encode()
    return raw, {"X-Signature": hmac_sha256_hex(secret, raw)}


def test_webhook_completed_failed_and_payout():
    provider = get_provider("coinpay")
    raw, headers = _signed({"id": "evt_1", "event": "transaction.completed", "data": {
        "transactionId": "tx_1", "amount": "499.50", "currency": "USD", "metadata": {"paymentId": "p"}}})
    event = provider.parse_event(raw, headers)
    assert event.event_id == "evt_1" and event.observations[0].confirmed and event.observations[0].amount == 49950
    raw, headers = _signed({"id": "evt_2", "event": "transaction.failed", "data": {"transactionId": "tx_1",
                                                                                  "currency": "USD"}})
    assert provider.parse_event(raw, headers).observations[0].failed
    raw, headers = _signed({"id": "evt_3", "event": "payout.completed", "data": {
        "id": "po_1", "metadata": {"settlementId": "5"}}})
    assert provider.parse_event(raw, headers).settlement.status == "paid"


def test_webhook_bad_signature():
    raw, headers = _signed({"id": "evt_1", "event": "transaction.completed", "data": {}}, secret="wrong")
    with pytest.raises(SignatureInvalid):
        get_provider("coinpay").parse_event(raw, headers)

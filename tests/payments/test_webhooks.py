"""The inbound webhook pipeline: store, verify, de-duplicate, process, reprocess."""
import io
import json

import pytest
import responses
from django.test import RequestFactory

from orders.actors import Actor
from payments.models import InboundWebhook, LedgerEntry, Payment, PaymentEvent, Refund, Settlement
from payments.providers.registry import reset_providers
from payments.providers.signatures import hmac_sha256_hex
from payments.webhooks import inbound_webhook_process, inbound_webhook_reprocess
from tests.factories import GatewayPaymentFactory

pytestmark = pytest.mark.django_db
SECRET = "webhook_secret"


RZP = "https://rzp.test"


@pytest.fixture(autouse=True)
def secrets(settings, monkeypatch):
    settings.RAZORPAY_WEBHOOK_SECRET = SECRET
    settings.RAZORPAY_API_URL = RZP
    monkeypatch.setattr("payments.providers.http.time.sleep", lambda seconds: None)
    settings.COINPAY_WEBHOOK_SECRET = "cp_secret"
    reset_providers()
    yield
    reset_providers()


@pytest.fixture
def payment():
    return GatewayPaymentFactory(provider_ref="order_Test0000000001")


def rzp_entity(payment: Payment, status: str, pay_id="pay_Abc1234567890X") -> dict:
    return {"id": pay_id, "entity": "payment", "amount": payment.amount_due, "currency": payment.pay_currency,
            "status": status, "order_id": payment.provider_ref, "notes": {}}


def rzp_entity_json(payment: Payment, status: str) -> str:
    return json.dumps(rzp_entity(payment, status))


def rzp_body(event: str, payment: Payment, status: str, pay_id="pay_Abc1234567890X") -> bytes:
    entity = rzp_entity(payment, status, pay_id)
    return json.dumps({"entity": "event", "event": event, "contains": ["payment"],
                       "payload": {"payment": {"entity": entity}}, "created_at": 1}).encode()


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    def send(body: bytes, *, event_id="evt_1", signature=None, provider="razorpay"):
        if provider == "razorpay":
            headers = {"HTTP_X_RAZORPAY_SIGNATURE": signature or hmac_sha256_hex(SECRET, body),
                       "HTTP_X_RAZORPAY_EVENT_ID": event_id}
        else:
            headers = {"HTTP_X_SIGNATURE": signature or hmac_sha256_hex("cp_secret", body)}
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(f"/webhooks/{provider}/", data=body, content_type="application/json", **headers)
    return send


def test_captured_webhook_completes_payment_with_one_ledger_entry(post, payment):
    response = post(rzp_body("payment.captured", payment, "captured"))
    assert response.status_code == 200 and response.json() == {"received": True}
    payment.refresh_from_db()
    assert payment.status == "completed" and payment.tx_id == "pay_Abc1234567890X" and payment.last_webhook_at
    row = InboundWebhook.objects.get()
    assert (row.status, row.signature_valid, row.event_type, row.attempts) == ("processed", True,
                                                                               "payment.captured", 1)
    assert LedgerEntry.objects.filter(payment=payment).count() == 1


def test_replayed_webhook_is_200_and_has_no_second_effect(post, payment):
    body = rzp_body("payment.captured", payment, "captured")
    post(body)
    replay = post(body)
    assert replay.status_code == 200 and replay.json()["duplicate"] is True
    assert InboundWebhook.objects.count() == 1
    assert PaymentEvent.objects.filter(payment=payment, type="payment.completed").count() == 1


def test_tampered_body_is_400_stored_invalid_and_changes_nothing(post, payment):
    body = rzp_body("payment.captured", payment, "captured")
    tampered = body.replace(b'"captured"', b'"failed"', 1)
    response = post(tampered, signature=hmac_sha256_hex(SECRET, body))
    assert response.status_code == 400 and response.json()["error"]["code"] == "signature_invalid"
    row = InboundWebhook.objects.get()
    assert (row.status, row.signature_valid) == ("invalid", False) and row.body == tampered.decode()
    payment.refresh_from_db()
    assert payment.status == "pending"
    # A forged delivery must not block the real one with the same event id.
    assert post(body).status_code == 200
    payment.refresh_from_db()
    assert payment.status == "completed"


def test_malformed_json_with_valid_signature_is_400(post):
    response = post(b"{not json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "malformed_json"


def test_body_over_limit_is_413(client, settings):
    settings.MAX_REQUEST_BODY_BYTES = 1000
    response = client.post("/webhooks/razorpay/", data=b"x" * 1001, content_type="application/json")
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"
    assert not InboundWebhook.objects.exists()


def test_chunked_body_over_limit_is_413(settings):
    from payments.views_gateway import webhook

    settings.MAX_REQUEST_BODY_BYTES = 1000
    request = RequestFactory().post("/webhooks/razorpay/", data=b"", content_type="application/json")
    request.META.pop("CONTENT_LENGTH", None)
    request.META.update({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True,
                         "wsgi.input": io.BytesIO(b"x" * 5000)})
    assert webhook(request, provider="razorpay").status_code == 413


@responses.activate
def test_captured_before_authorized_still_ends_completed(post, payment):
    responses.post(f"{RZP}/v1/payments/pay_Abc1234567890X/capture", status=400,
                   json={"error": {"code": "BAD_REQUEST_ERROR", "description": "already captured"}})
    responses.get(f"{RZP}/v1/payments/pay_Abc1234567890X",
                  body=rzp_entity_json(payment, "captured"), content_type="application/json")
    post(rzp_body("payment.captured", payment, "captured"), event_id="evt_cap")
    post(rzp_body("payment.authorized", payment, "authorized"), event_id="evt_auth")
    post(rzp_body("order.paid", payment, "captured"), event_id="evt_paid")
    payment.refresh_from_db()
    assert payment.status == "completed"
    assert not PaymentEvent.objects.filter(payment=payment, type="payment.confirming").exists()
    assert InboundWebhook.objects.filter(status="processed").count() == 3


@responses.activate
def test_authorized_then_captured(post, payment):
    # Capturing fails for now (gateway down): the authorization is kept, the webhook row is fine.
    responses.post(f"{RZP}/v1/payments/pay_Abc1234567890X/capture", status=503)
    post(rzp_body("payment.authorized", payment, "authorized"), event_id="evt_auth")
    payment.refresh_from_db()
    assert payment.status == "confirming"
    assert InboundWebhook.objects.get().status == "processed"
    post(rzp_body("payment.captured", payment, "captured"), event_id="evt_cap")
    payment.refresh_from_db()
    assert payment.status == "completed"


@responses.activate
def test_authorized_webhook_captures_the_payment(post, payment):
    capture = responses.post(f"{RZP}/v1/payments/pay_Abc1234567890X/capture",
                             body=rzp_entity_json(payment, "captured"), content_type="application/json")
    post(rzp_body("payment.authorized", payment, "authorized"), event_id="evt_auth")
    payment.refresh_from_db()
    assert payment.status == "completed" and capture.call_count == 1
    assert json.loads(capture.calls[0].request.body) == {"amount": payment.amount_due, "currency": "INR"}


def test_failed_payment_event(post, payment):
    post(rzp_body("payment.failed", payment, "failed"))
    payment.refresh_from_db()
    assert payment.status == "failed"


def test_unknown_event_is_ignored(post):
    post(json.dumps({"event": "payment.dispute.created", "payload": {}}).encode())
    assert InboundWebhook.objects.get().status == "ignored"


def test_refund_processed_marks_refund_succeeded(post, payment):
    post(rzp_body("payment.captured", payment, "captured"))
    refund = Refund.objects.create(payment=payment, seller=payment.seller, amount=100, provider_refund_id="rfnd_1")
    body = json.dumps({"event": "refund.processed", "payload": {"refund": {"entity": {
        "id": "rfnd_1", "amount": 100, "payment_id": "pay_Abc1234567890X", "status": "processed"}}}}).encode()
    post(body, event_id="evt_r")
    refund.refresh_from_db()
    payment.refresh_from_db()
    assert refund.status == "succeeded" and payment.status == "partially_refunded" and payment.refunded_amount == 100


def test_refund_event_found_by_our_id_in_notes_before_provider_id_is_stored(post, payment):
    post(rzp_body("payment.captured", payment, "captured"))
    refund = Refund.objects.create(payment=payment, seller=payment.seller, amount=payment.amount)
    body = json.dumps({"event": "refund.processed", "payload": {"refund": {"entity": {
        "id": "rfnd_2", "amount": payment.amount, "notes": {"kassa_refund_id": str(refund.pk)}}}}}).encode()
    post(body, event_id="evt_r2")
    refund.refresh_from_db()
    assert refund.status == "succeeded" and refund.provider_refund_id == "rfnd_2"


def test_event_for_unknown_refund_fails_and_can_be_reprocessed(post, payment, staff_user,
                                                                django_capture_on_commit_callbacks):
    post(rzp_body("payment.captured", payment, "captured"))
    body = json.dumps({"event": "refund.failed", "payload": {"refund": {"entity": {"id": "rfnd_late"}}}}).encode()
    post(body, event_id="evt_late")
    row = InboundWebhook.objects.get(event_id="evt_late")
    assert row.status == "failed" and "not recorded" in row.error
    refund = Refund.objects.create(payment=payment, seller=payment.seller, amount=10, provider_refund_id="rfnd_late")
    assert inbound_webhook_reprocess(webhook_id=row.pk, actor=Actor.staff(staff_user)) == "processed"
    row.refresh_from_db()
    refund.refresh_from_db()
    assert row.status == "processed" and refund.status == "failed"


def test_invalid_rows_are_never_processed(post, payment):
    from payments.services import PaymentStateError

    body = rzp_body("payment.captured", payment, "captured")
    post(body, signature="0" * 64)
    row = InboundWebhook.objects.get()
    assert inbound_webhook_process(webhook_id=row.pk) == "invalid"
    with pytest.raises(PaymentStateError):
        inbound_webhook_reprocess(webhook_id=row.pk)
    payment.refresh_from_db()
    assert payment.status == "pending"


def test_processing_twice_is_a_no_op(post, payment):
    post(rzp_body("payment.captured", payment, "captured"))
    row = InboundWebhook.objects.get()
    assert inbound_webhook_process(webhook_id=row.pk) == "processed"
    row.refresh_from_db()
    assert row.attempts == 1


def test_transfer_processed_marks_settlement_paid(post, payment):
    settlement = Settlement.objects.create(seller=payment.seller, method="razorpay", kind="transfer",
                                           currency="INR", amount=100, status="in_flight", provider_ref="trf_1")
    post(json.dumps({"event": "transfer.processed", "payload": {"transfer": {"entity": {"id": "trf_1"}}}}).encode())
    settlement.refresh_from_db()
    assert settlement.status == "paid" and settlement.completed_at


def test_coinpay_completed_webhook(post):
    payment = GatewayPaymentFactory(method="coinpay", provider_ref="tx_1")
    body = json.dumps({"id": "evt_c1", "event": "transaction.completed", "data": {
        "transactionId": "tx_1", "amount": f"{payment.amount // 100}.{payment.amount % 100:02d}",
        "currency": payment.currency, "status": "Completed", "metadata": {"paymentId": str(payment.pk)}}}).encode()
    assert post(body, provider="coinpay").status_code == 200
    assert post(body, provider="coinpay").json()["duplicate"] is True
    payment.refresh_from_db()
    assert payment.status == "completed"
    assert InboundWebhook.objects.get().event_id == "evt_c1"


def test_webhook_rejects_get(client):
    assert client.get("/webhooks/razorpay/").status_code == 405


def test_stale_received_rows_are_requeued_and_processed_once(payment, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    from payments.webhooks import inbound_webhooks_requeue_stale

    body = rzp_body("payment.captured", payment, "captured")
    row = InboundWebhook.objects.create(provider="razorpay", event_id="evt_lost", signature_valid=True,
                                        event_type="payment.captured", body=body.decode(), headers={},
                                        received_at=timezone.now() - timedelta(minutes=5))
    fresh = InboundWebhook.objects.create(provider="razorpay", event_id="evt_fresh", signature_valid=True,
                                          body=body.decode(), headers={})
    with django_capture_on_commit_callbacks(execute=True):
        assert inbound_webhooks_requeue_stale(provider="razorpay") == 1
        assert inbound_webhooks_requeue_stale(provider="coinpay") == 0
    row.refresh_from_db()
    fresh.refresh_from_db()
    assert (row.status, row.attempts, fresh.status) == ("processed", 1, "received")
    assert inbound_webhook_process(webhook_id=row.pk) == "processed"  # a late duplicate task: skipped
    row.refresh_from_db()
    assert row.attempts == 1
    payment.refresh_from_db()
    assert payment.status == "completed"


def test_handler_error_rolls_back_and_marks_failed(post, payment, monkeypatch):
    def boom(event):
        from payments.services import observation_apply

        for observation in event.observations:
            observation_apply(observation=observation)
        raise RuntimeError("handler bug after applying")

    monkeypatch.setitem(__import__("payments.webhooks", fromlist=["HANDLERS"]).HANDLERS, "payment.captured", boom)
    post(rzp_body("payment.captured", payment, "captured"))
    row = InboundWebhook.objects.get()
    assert (row.status, row.attempts) == ("failed", 1) and "handler bug" in row.error
    payment.refresh_from_db()
    assert payment.status == "pending"  # the half-done work rolled back with the failure

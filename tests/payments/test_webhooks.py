"""The inbound webhook pipeline: store, verify, de-duplicate, process, reprocess."""
import io
import json
from datetime import timedelta

import pytest
import responses
import time_machine
from django.db import InterfaceError, OperationalError
from django.test import RequestFactory
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerDown

from config.redis import redis_client
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


@responses.activate
def test_authorized_payment_whose_capture_failed_is_captured_on_a_later_tick(post, payment):
    """The webhook's capture call fails (503 on every try): the payment waits in confirming,
    and the next monitor tick captures it although a webhook did arrive and it is fresh."""
    from payments.monitor_gateways import tick_razorpay

    capture_url = f"{RZP}/v1/payments/pay_Abc1234567890X/capture"
    failing = responses.post(capture_url, status=503)
    post(rzp_body("payment.authorized", payment, "authorized"), event_id="evt_auth")
    payment.refresh_from_db()
    assert payment.status == "confirming" and payment.last_webhook_at and failing.call_count == 3

    responses.replace(responses.POST, capture_url, body=rzp_entity_json(payment, "captured"),
                      content_type="application/json")
    responses.get(f"{RZP}/v1/orders/{payment.provider_ref}/payments",
                  json={"items": [rzp_entity(payment, "authorized")]})
    assert tick_razorpay()["polled"] == 1
    payment.refresh_from_db()
    assert payment.status == "completed" and payment.tx_id == "pay_Abc1234567890X"
    assert LedgerEntry.objects.filter(payment=payment).count() == 1


def test_failed_attempt_event_keeps_the_payment_open(post, payment):
    post(rzp_body("payment.failed", payment, "failed", pay_id="pay_Failed00000001"))
    payment.refresh_from_db()
    assert payment.status == "pending"
    assert PaymentEvent.objects.filter(payment=payment, type="payment.attempt_failed").count() == 1
    post(rzp_body("payment.captured", payment, "captured"), event_id="evt_2")
    payment.refresh_from_db()
    assert payment.status == "completed" and payment.exceptions == []


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


@pytest.mark.parametrize("lost", [OperationalError("terminating connection due to administrator command"),
                                  InterfaceError("connection already closed")])
def test_a_database_lost_mid_processing_is_retried_not_parked(post, payment, monkeypatch, lost):
    """A database restart while a webhook is processed (the soak's fault 5) is an outage, not a
    bug: the row is retried later like RetryLater, where before it waited for a person."""
    import payments.webhooks as webhooks

    def database_gone(event):
        raise lost

    retried, handler = [], webhooks.HANDLERS["payment.captured"]
    monkeypatch.setitem(webhooks.HANDLERS, "payment.captured", database_gone)
    monkeypatch.setattr(webhooks, "_retry_later", lambda webhook_id, attempts: retried.append((webhook_id, attempts)))
    post(rzp_body("payment.captured", payment, "captured"))
    row = InboundWebhook.objects.get()
    assert (row.status, row.attempts) == ("failed", 1) and lost.__class__.__name__ in row.error
    assert retried == [(row.pk, 1)]
    monkeypatch.setitem(webhooks.HANDLERS, "payment.captured", handler)
    assert inbound_webhook_process(webhook_id=row.pk) == "processed"  # the retry, once the database is back
    payment.refresh_from_db()
    assert payment.status == "completed"


def test_an_outage_is_retried_further_apart_each_time_then_left_for_staff(post, payment, monkeypatch):
    """Retries back off (30, 60, 120, 240 s), so a database outage of up to 7.5 minutes is ridden
    out; the fifth failure leaves the row failed in the review queue, with no further retry."""
    import payments.webhooks as webhooks

    def database_gone(event):
        raise OperationalError("the database system is starting up")

    retried = []
    monkeypatch.setitem(webhooks.HANDLERS, "payment.captured", database_gone)
    monkeypatch.setattr(webhooks, "_retry_later", lambda webhook_id, attempts: retried.append(attempts))
    post(rzp_body("payment.captured", payment, "captured"))
    row = InboundWebhook.objects.get()
    for _ in range(4):
        inbound_webhook_process(webhook_id=row.pk)
    assert retried == [1, 2, 3, 4]
    assert [webhooks.retry_countdown(n) for n in retried] == [30, 60, 120, 240]
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("failed", 5)
    with time_machine.travel(timezone.now() + timedelta(days=1)):  # left for staff: never swept again
        assert webhooks.inbound_webhooks_requeue_stale(provider="razorpay") == 0


def test_a_retry_the_broker_lost_is_requeued_by_the_monitor_once_overdue(post, payment, monkeypatch,
                                                                          django_capture_on_commit_callbacks):
    """A retry is one broker message with a countdown: a Redis restart drops it, and a publish while
    the broker is down raised out of the task. Before, the monitor swept only "received" rows, so the
    row stayed failed for ever with its refund unapplied; now its retry_at tells the monitor it is overdue."""
    import payments.webhooks as webhooks
    from config.celery_app import app
    from payments.tasks import process_inbound_webhook

    def broker_down(*args, **kwargs):
        raise BrokerDown("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    post(rzp_body("payment.captured", payment, "captured"))
    post(json.dumps({"event": "refund.processed", "payload": {"refund": {"entity": {
        "id": "rfnd_lost", "amount": 100, "payment_id": "pay_Abc1234567890X", "status": "processed"}}}}).encode(),
        event_id="evt_lost_retry")
    row = InboundWebhook.objects.get(event_id="evt_lost_retry")
    assert row.status == "failed" and "not recorded" in row.error
    app.conf.task_always_eager = False  # a real publish (conftest's _eager_celery restores the setting)
    with monkeypatch.context() as broker:
        broker.setattr(process_inbound_webhook, "apply_async", broker_down)
        assert inbound_webhook_process(webhook_id=row.pk) == "failed"  # its retry's publish fails: no crash
    app.conf.task_always_eager = True
    refund = Refund.objects.create(payment=payment, seller=payment.seller, amount=100, provider_refund_id="rfnd_lost")
    with django_capture_on_commit_callbacks(execute=True):
        assert webhooks.inbound_webhooks_requeue_stale(provider="razorpay") == 0  # not overdue: still in flight
        with time_machine.travel(timezone.now() + timedelta(minutes=5)):
            assert webhooks.inbound_webhooks_requeue_stale(provider="razorpay") == 1
    row.refresh_from_db()
    refund.refresh_from_db()
    assert (row.status, row.attempts, refund.status) == ("processed", 3, "succeeded")


# --- the coalesced drain (payments.webhooks.webhooks_kick / inbound_webhooks_drain) ----------

@pytest.fixture
def coalesced(monkeypatch):
    """Redis mode: requests kick a drain instead of queueing one task per row. Records the
    drains published (and does not run them) so a test can run them when it wants."""
    import payments.webhooks as webhooks
    from payments.tasks import process_inbound_webhook, process_pending_webhooks

    published = []
    monkeypatch.setattr(webhooks, "_coalesce", lambda: True)
    monkeypatch.setattr(webhooks, "_covered_until", 0.0)
    monkeypatch.setattr(webhooks, "webhooks_kick", lambda: published.append("drain") or True)
    monkeypatch.setattr(process_pending_webhooks, "apply_async", lambda *a, **k: published.append("drain"))
    monkeypatch.setattr(process_inbound_webhook, "apply_async",
                        lambda *a, **k: pytest.fail("per-row task queued in coalesced mode"))
    return published


def two_payments():
    return [GatewayPaymentFactory(provider_ref=f"order_Drain{i:09d}") for i in range(2)]


def test_drain_processes_every_received_row_once_and_replays_add_nothing(post, coalesced):
    from payments.webhooks import inbound_webhooks_drain

    first, second = two_payments()
    for number, payment in enumerate((first, second, first)):  # the third is a replay of the first
        body = rzp_body("payment.captured", payment, "captured", pay_id=f"pay_Drain{payment.provider_ref[-1]}")
        response = post(body, event_id=f"evt_d{payment.provider_ref[-1]}")
        assert response.status_code == 200 and response.json().get("duplicate", False) is (number == 2)
    post(rzp_body("payment.captured", first, "captured"), event_id="evt_forged", signature="0" * 64)
    assert coalesced == ["drain", "drain"]  # stored rows kicked; the replay and the forgery did not
    assert InboundWebhook.objects.filter(status="received").count() == 2
    assert inbound_webhooks_drain() == 2
    assert inbound_webhooks_drain() == 0  # nothing left: a second drain is a no-op
    rows = InboundWebhook.objects.order_by("pk")
    assert [(r.status, r.attempts) for r in rows] == [("processed", 1), ("processed", 1), ("invalid", 0)]
    for payment in (first, second):
        payment.refresh_from_db()
        assert payment.status == "completed"
        assert PaymentEvent.objects.filter(payment=payment, type="payment.completed").count() == 1
        assert LedgerEntry.objects.filter(payment=payment).count() == 1


def test_drain_works_in_bounded_batches_and_hands_over_when_capped(post, coalesced):
    from payments.webhooks import inbound_webhooks_drain

    for payment in two_payments():
        post(rzp_body("payment.captured", payment, "captured", pay_id=f"pay_B{payment.provider_ref[-1]}"),
             event_id=f"evt_b{payment.provider_ref[-1]}")
    coalesced.clear()
    assert inbound_webhooks_drain(batch_size=1, max_rows=1) == 1
    assert coalesced == ["drain"]  # capped with rows left: a fresh drain continues
    assert inbound_webhooks_drain(batch_size=1) == 1
    assert not InboundWebhook.objects.filter(status="received").exists()


def test_lost_kick_is_caught_by_the_stale_sweep(post, coalesced, monkeypatch, django_capture_on_commit_callbacks):
    """At least once: the broker is down when the request kicks; the row is still stored, the
    answer is 200, and the monitor's sweep processes it later."""
    import payments.webhooks as webhooks
    from payments.tasks import process_inbound_webhook

    def broker_down():
        raise ConnectionError("redis down")

    monkeypatch.setattr(webhooks, "webhooks_kick", broker_down)
    payment = GatewayPaymentFactory(provider_ref="order_Lost000000001")
    assert post(rzp_body("payment.captured", payment, "captured")).status_code == 200
    row = InboundWebhook.objects.get()
    assert row.status == "received"
    monkeypatch.delattr(process_inbound_webhook, "apply_async")  # the sweep queues the row itself
    with django_capture_on_commit_callbacks(execute=True):
        assert webhooks.inbound_webhooks_requeue_stale(provider="razorpay", older_than_seconds=-1) == 1
    row.refresh_from_db()
    payment.refresh_from_db()
    assert (row.status, row.attempts, payment.status) == ("processed", 1, "completed")


def test_failed_rows_are_left_to_their_retry_not_to_the_drain(post, coalesced, monkeypatch):
    from payments.webhooks import inbound_webhooks_drain

    payment = GatewayPaymentFactory(provider_ref="order_Fail000000001")
    post(rzp_body("payment.captured", payment, "captured"))
    InboundWebhook.objects.update(status="failed", attempts=1)
    assert inbound_webhooks_drain() == 0
    assert InboundWebhook.objects.get().attempts == 1


@pytest.mark.redis
def test_kick_publishes_one_drain_per_window_across_processes(settings, monkeypatch):
    import payments.webhooks as webhooks
    from payments.tasks import process_pending_webhooks

    published = []
    monkeypatch.setattr(process_pending_webhooks, "apply_async", lambda **kw: published.append(kw["countdown"]))
    redis_client().delete(webhooks.KICK_KEY)
    monkeypatch.setattr(webhooks, "_covered_until", 0.0)
    assert webhooks.webhooks_kick() is True
    assert webhooks.webhooks_kick() is False  # same process: covered locally, no Redis call
    monkeypatch.setattr(webhooks, "_covered_until", 0.0)  # as if another process
    assert webhooks.webhooks_kick() is False  # the key is held: that drain is already due
    assert published == [(webhooks.KICK_WINDOW_MS + webhooks.KICK_MARGIN_MS) / 1000]
    redis_client().delete(webhooks.KICK_KEY)
    monkeypatch.setattr(webhooks, "_covered_until", 0.0)
    assert webhooks.webhooks_kick() is True  # window over: the next kick publishes again
    assert len(published) == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_drains_at_once_process_each_row_once(post, coalesced):
    from payments.webhooks import inbound_webhooks_drain
    from tests.concurrency import run_at_once

    payments = [GatewayPaymentFactory(provider_ref=f"order_Race{i:010d}") for i in range(12)]
    for i, payment in enumerate(payments):
        response = post(rzp_body("payment.captured", payment, "captured", pay_id=f"pay_Race{i:010d}"),
                        event_id=f"evt_race_{i}")
        assert response.status_code == 200
    assert post(rzp_body("payment.captured", payments[0], "captured", pay_id="pay_Race0000000000"),
                event_id="evt_race_0").json()["duplicate"] is True  # ON CONFLICT DO NOTHING path
    done = run_at_once(lambda: inbound_webhooks_drain(batch_size=3), lambda: inbound_webhooks_drain(batch_size=3))
    assert sum(done) == 12
    assert set(InboundWebhook.objects.values_list("status", "attempts")) == {("processed", 1)}
    assert PaymentEvent.objects.filter(type="payment.completed").count() == 12
    assert LedgerEntry.objects.filter(payment__in=payments).count() == 12


def test_kept_headers_are_lower_case_and_never_secrets():
    from django.http.request import HttpHeaders

    from payments.webhooks import _kept, kept_headers

    expected = {"content-type": "application/json", "x-razorpay-event-id": "evt_9"}
    meta = {"CONTENT_TYPE": "application/json", "HTTP_X_RAZORPAY_EVENT_ID": "evt_9", "HTTP_AUTHORIZATION": "Basic x",
            "HTTP_COOKIE": "sessionid=1", "REMOTE_ADDR": "10.0.0.1"}
    assert _kept(HttpHeaders(meta)) == expected
    assert kept_headers(meta) == expected  # what the view passes on: read from the environ
    assert _kept(kept_headers(meta)) == expected
    assert _kept({"Content-Type": "application/json", "X-Razorpay-Event-Id": "evt_9", "Cookie": "a=1"}) == expected


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/webhooks/razorpay/", "/webhooks/coinpay/"])
@pytest.mark.parametrize("body", [b'{"event":"payment.captured","id":"\x00"}', b'{"id":"evt_\\u0000"}', b"\xff\x00"])
def test_nul_bytes_in_a_webhook_are_stored_as_evidence_not_a_500(client, path, body):
    """PostgreSQL text refuses NUL; the row is still kept (NUL shown as U+FFFD) and the caller gets a 4xx."""
    from payments.models import InboundWebhook

    response = client.post(path, data=body, content_type="application/json",
                           HTTP_X_RAZORPAY_SIGNATURE="00", HTTP_X_SIGNATURE="00")
    assert response.status_code == 400
    row = InboundWebhook.objects.get()
    assert row.status == "invalid" and "\x00" not in row.body and "\x00" not in row.event_id


DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("provider", ["razorpay", "coinpay"])
@pytest.mark.parametrize("signed", [False, True])
def test_deeply_nested_json_is_a_400_and_the_row_is_kept(post, provider, signed):
    """json recurses per level: 100k deep raised RecursionError (a 500) in the event-id reader,
    before the row was stored, and in read_event. Now a 400, with the row kept like any bad body."""
    response = post(DEEP, provider=provider, signature=None if signed else "00")
    assert response.status_code == 400
    row = InboundWebhook.objects.get()
    assert row.status == ("failed" if signed else "invalid") and row.provider == provider


def test_deeply_nested_json_in_a_stored_row_fails_processing_cleanly(post, payment):
    row = InboundWebhook.objects.create(provider="coinpay", event_id="evt_deep", signature_valid=True,
                                        body=(b'{"event":"transaction.completed","data":' + DEEP + b"}").decode())
    assert inbound_webhook_process(webhook_id=row.pk) == "failed"
    row.refresh_from_db()
    assert "nested" in row.error


def test_an_invalid_body_keeps_a_bounded_prefix_its_length_and_digest(client):
    """Unauthenticated bodies cannot fill the disk: 1 MB with a bad signature stores 4 KB."""
    import hashlib

    body = b'{"event": "payment.captured", "pad": "' + b"x" * (1024 * 1024 - 100) + b'"}'
    response = client.post("/webhooks/razorpay/", data=body, content_type="application/json",
                           HTTP_X_RAZORPAY_SIGNATURE="00")
    assert response.status_code == 400
    row = InboundWebhook.objects.get()
    assert row.status == "invalid" and row.body == body[:4096].decode()
    assert (row.body_bytes, row.body_sha256) == (len(body), hashlib.sha256(body).hexdigest())


def test_a_valid_body_is_kept_whole_with_its_length_and_digest(post, payment):
    import hashlib

    body = rzp_body("payment.captured", payment, "captured")
    assert post(body).status_code == 200
    row = InboundWebhook.objects.get()
    assert (row.body, row.body_bytes, row.body_sha256) == (body.decode(), len(body), hashlib.sha256(body).hexdigest())


def test_invalid_signatures_are_throttled_per_client_ip(client, post, payment, settings):
    settings.INBOUND_INVALID_RATE = "3/min"
    statuses = [client.post("/webhooks/coinpay/", data=b"{}", content_type="application/json",
                            HTTP_X_SIGNATURE="00", REMOTE_ADDR="203.0.113.7").status_code for _ in range(5)]
    assert statuses == [400, 400, 400, 429, 429]
    assert InboundWebhook.objects.count() == 3  # refused ones are not stored
    other = client.post("/webhooks/coinpay/", data=b"{}", content_type="application/json",
                        HTTP_X_SIGNATURE="00", REMOTE_ADDR="203.0.113.8")
    assert other.status_code == 400
    # A correctly signed delivery from the throttled address still goes through.
    assert post(rzp_body("payment.captured", payment, "captured")).status_code == 200


def test_old_invalid_rows_are_purged_and_everything_else_kept(settings):
    from datetime import timedelta

    from django.utils import timezone

    from config.celery_app import BEAT_SCHEDULE
    from payments.tasks import purge_invalid_webhooks

    settings.INBOUND_INVALID_RETENTION_DAYS = 30
    old = timezone.now() - timedelta(days=31)
    kept = [InboundWebhook.objects.create(provider="razorpay", event_id="a", body="{}", status="invalid",
                                          received_at=timezone.now() - timedelta(days=29)),
            InboundWebhook.objects.create(provider="razorpay", event_id="b", body="{}", signature_valid=True,
                                          status="processed", received_at=old)]
    InboundWebhook.objects.create(provider="razorpay", event_id="c", body="{}", status="invalid", received_at=old)
    assert purge_invalid_webhooks() == 1
    assert sorted(InboundWebhook.objects.values_list("pk", flat=True)) == sorted(row.pk for row in kept)
    assert any(entry["task"] == "payments.tasks.purge_invalid_webhooks" and entry["schedule"] == 3600.0
               for entry in BEAT_SCHEDULE.values())


@pytest.mark.parametrize("amount", [10**40, 10**19, -5, 100.7, "12x"])
def test_an_amount_no_column_can_hold_is_an_unprocessable_event_for_staff(post, payment, amount):
    """A signed event with an absurd amount was a DataError deep in processing (or silently
    truncated, for 100.7). Now the row fails with a clear reason, nothing changes, no retry."""
    entity = {**rzp_entity(payment, "captured"), "amount": amount}
    body = json.dumps({"entity": "event", "event": "payment.captured", "contains": ["payment"],
                       "payload": {"payment": {"entity": entity}}}).encode()
    assert post(body).status_code == 200  # signed and stored: the gateway must not resend it
    row = InboundWebhook.objects.get()
    assert row.status == "failed" and "amount" in row.error and "Error" not in row.error
    payment.refresh_from_db()
    assert payment.status == "pending" and not LedgerEntry.objects.exists()


@pytest.mark.parametrize("amount", ["1" + "0" * 40, "1e40", "10000000000.001", "1.00000000000000000000000000001"])
def test_a_coinpay_amount_out_of_range_or_rounded_is_unprocessable(post, amount):
    payment = GatewayPaymentFactory(method="coinpay", provider_ref="tx_1")
    body = json.dumps({"id": "evt_c1", "event": "transaction.completed", "data": {
        "transactionId": "tx_1", "amount": amount, "currency": payment.currency, "status": "Completed",
        "metadata": {"paymentId": str(payment.pk)}}}).encode()
    assert post(body, provider="coinpay").status_code == 200
    row = InboundWebhook.objects.get()
    assert row.status == "failed" and row.error.startswith("unprocessable: ") and "amount" in row.error
    payment.refresh_from_db()
    assert payment.status == "pending"

"""Outbound webhooks end to end: a real local HTTP receiver, signatures checked with the
`standardwebhooks` package, the retry schedule under time control, what is and is not
retried, disabling after 3 days, SSRF refusal, and every event type really firing."""
from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from orders.actors import Actor
from payments.money import due_in_wire_units
from payments.providers.base import Observation
from payments.services import observation_apply, payment_expire_stale, payment_refund
from tests.factories import GatewayPaymentFactory, OrderFactory, PaymentFactory
from webhooks import delivery as webhooks
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import webhook_endpoint_create, webhook_event_emit

pytestmark = pytest.mark.django_db


class Receiver:
    """A tiny HTTP server on a free port. `script` is the statuses to answer, in order
    (the last one repeats); "sleep" answers 200 after sleeping past the client's timeout."""

    def __init__(self):
        self.requests: list[tuple[dict, bytes]] = []
        self.script: list = [200]
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                action = receiver.script.pop(0) if len(receiver.script) > 1 else receiver.script[0]
                if action == "sleep":
                    time.sleep(1.0)
                    action = 200
                self.send_response(action)
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    settings.DEBUG = True  # the receiver is on loopback: allowed only in DEBUG
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def endpoint(seller, receiver):
    return webhook_endpoint_create(seller=seller, url=receiver.url, events=[])


def emit(capture, seller, event_type="payment.completed", data=None) -> WebhookDelivery:
    with capture(execute=True):
        rows = webhook_event_emit(seller_id=seller.pk, event_type=event_type, data=data or {"id": "p_1"})
    return WebhookDelivery.objects.get(pk=rows[0].pk)


def verify(endpoint, headers, body) -> dict:
    """What a seller's receiver does, with the reference library."""
    return Webhook(endpoint.secret).verify(body, headers)


# --- signing and delivery ---------------------------------------------------------------

def test_a_delivery_is_signed_and_verifiable_with_standardwebhooks(seller, endpoint, receiver,
                                                                   django_capture_on_commit_callbacks):
    delivery = emit(django_capture_on_commit_callbacks, seller, data={"id": "p_1", "amount": 99800})
    assert delivery.status == "succeeded" and delivery.attempts == 1 and delivery.last_status_code == 200
    headers, body = receiver.requests[0]
    payload = verify(endpoint, headers, body)
    assert payload["type"] == "payment.completed" and payload["data"] == {"id": "p_1", "amount": 99800}
    assert payload["created_at"].endswith("Z")
    assert headers["webhook-id"] == delivery.message_id and headers["content-type"] == "application/json"
    assert endpoint.secret.startswith("whsec_") and len(__import__("base64").b64decode(endpoint.secret[6:])) == 24
    with pytest.raises(Exception):  # noqa: B017 - a tampered body must not verify
        verify(endpoint, headers, body.replace(b"99800", b"99801"))
    assert delivery.attempt_log.get().response_excerpt == '{"ok": true}'


def test_endpoints_get_only_the_events_they_chose(seller, receiver, django_capture_on_commit_callbacks):
    webhook_endpoint_create(seller=seller, url=receiver.url, events=["refund.succeeded"])
    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_event_emit(seller_id=seller.pk, event_type="payment.completed", data={}) == []
        assert len(webhook_event_emit(seller_id=seller.pk, event_type="refund.succeeded", data={})) == 1
    assert len(receiver.requests) == 1


# --- retries ------------------------------------------------------------------------------

def test_retry_schedule_is_eight_attempts_over_about_a_day(seller, endpoint, receiver,
                                                          django_capture_on_commit_callbacks):
    receiver.script = [503]
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        delivery = emit(django_capture_on_commit_callbacks, seller)
        attempt_times = [timezone.now()]
        while delivery.status == WebhookDelivery.Status.FAILED:
            base = webhooks.RETRY_SCHEDULE[delivery.attempts - 1]
            gap = delivery.next_attempt_at - attempt_times[-1]
            assert base <= gap <= base * 1.1 + timedelta(seconds=1)  # jitter is at most 10 %
            clock.move_to(delivery.next_attempt_at - timedelta(seconds=1))
            assert webhooks.deliveries_send_due() == 0  # not due yet
            clock.move_to(delivery.next_attempt_at)
            assert webhooks.deliveries_send_due() == 1
            attempt_times.append(timezone.now())
            delivery.refresh_from_db()
            verify(endpoint, *receiver.requests[-1])  # each retry is freshly signed
    assert delivery.status == "dead" and delivery.attempts == webhooks.MAX_ATTEMPTS == 8
    assert len(receiver.requests) == 8 and delivery.attempt_log.count() == 8
    assert {headers["webhook-id"] for headers, _ in receiver.requests} == {delivery.message_id}
    span = attempt_times[-1] - attempt_times[0]
    assert timedelta(hours=22) <= span <= timedelta(hours=28)


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422, 302])
def test_other_4xx_and_redirects_are_not_retried(seller, endpoint, receiver, status,
                                                 django_capture_on_commit_callbacks):
    receiver.script = [status]
    delivery = emit(django_capture_on_commit_callbacks, seller)
    assert delivery.status == "dead" and delivery.next_attempt_at is None and delivery.last_status_code == status


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_5xx_and_429_are_retried(seller, endpoint, receiver, status, django_capture_on_commit_callbacks):
    receiver.script = [status, 200]
    delivery = emit(django_capture_on_commit_callbacks, seller)
    assert delivery.status == "failed" and delivery.next_attempt_at > timezone.now()
    with time_machine.travel(delivery.next_attempt_at + timedelta(seconds=1), tick=False):
        webhooks.deliveries_send_due()
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempts == 2


def test_a_timeout_is_retried(seller, endpoint, receiver, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(webhooks, "TIMEOUT_SECONDS", 0.2)
    receiver.script = ["sleep"]
    delivery = emit(django_capture_on_commit_callbacks, seller)
    assert delivery.status == "failed" and delivery.last_status_code is None
    assert "Timeout" in delivery.last_error


def test_resend_keeps_the_webhook_id(seller, endpoint, receiver, django_capture_on_commit_callbacks):
    receiver.script = [400, 200]
    delivery = emit(django_capture_on_commit_callbacks, seller)
    assert delivery.status == "dead"
    delivery = webhooks.delivery_resend(delivery=delivery)
    assert delivery.status == "succeeded"
    assert receiver.requests[0][0]["webhook-id"] == receiver.requests[1][0]["webhook-id"]


# --- endpoint health ---------------------------------------------------------------------------

def test_an_endpoint_failing_for_three_days_is_disabled(seller, endpoint, receiver,
                                                        django_capture_on_commit_callbacks):
    receiver.script = [500]
    start = timezone.now()
    for hours in (0, 30, 60, 71):
        with time_machine.travel(start + timedelta(hours=hours), tick=False):
            emit(django_capture_on_commit_callbacks, seller)
        endpoint.refresh_from_db()
        assert endpoint.is_active, hours
    with time_machine.travel(start + timedelta(days=3, minutes=1), tick=False):
        delivery = emit(django_capture_on_commit_callbacks, seller)
    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.disabled_at and "3 days" in endpoint.disabled_reason
    # Retries still queued for it stop, and new events no longer go to it.
    with time_machine.travel(delivery.next_attempt_at + timedelta(seconds=1), tick=False):
        webhooks.deliveries_send_due()
    delivery.refresh_from_db()
    assert delivery.status == "dead" and delivery.last_error == "Endpoint is disabled."
    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_event_emit(seller_id=seller.pk, event_type="payment.completed", data={}) == []


def test_one_success_resets_the_failure_clock(seller, endpoint, receiver, django_capture_on_commit_callbacks):
    start = timezone.now()
    receiver.script = [500, 200, 500]
    for hours in (0, 48, 80):
        with time_machine.travel(start + timedelta(hours=hours), tick=False):
            emit(django_capture_on_commit_callbacks, seller)
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.failing_since is not None


# --- SSRF --------------------------------------------------------------------------------

def test_private_addresses_are_refused_at_send_time_outside_the_sandbox(
        seller, endpoint, receiver, settings, django_capture_on_commit_callbacks):
    settings.SANDBOX_MODE = False
    settings.DEBUG = False
    delivery = emit(django_capture_on_commit_callbacks, seller)
    assert delivery.status == "dead" and delivery.last_error.startswith("Refused:")
    assert receiver.requests == []
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None  # a refusal is not the receiver's fault


# --- every event type fires from the services, after commit ------------------------------------

def _delivered_types(receiver, endpoint) -> list[str]:
    return [verify(endpoint, headers, body)["type"] for headers, body in receiver.requests]


def test_payment_completed_and_order_paid(seller, endpoint, receiver, django_capture_on_commit_callbacks):
    payment = PaymentFactory(order=OrderFactory(seller=seller))
    obs = Observation(provider="nano", external_tx_id="A" * 64, payment_ref=str(payment.pk), confirmed=True,
                      amount=due_in_wire_units(payment.amount_due, "XNO"), pay_to=payment.pay_to)
    with django_capture_on_commit_callbacks(execute=True):
        observation_apply(observation=obs)
        assert receiver.requests == []  # nothing leaves before commit
    assert sorted(_delivered_types(receiver, endpoint)) == ["order.paid", "payment.completed"]
    body = json.loads(receiver.requests[0][1])
    assert body["data"]["id"] in (str(payment.pk), str(payment.order_id))


def test_payment_failed(seller, endpoint, receiver, django_capture_on_commit_callbacks):
    payment = GatewayPaymentFactory(order=OrderFactory(seller=seller))
    obs = Observation(provider="razorpay", external_tx_id="pay_X", payment_ref=str(payment.pk), failed=True,
                      failure_reason="card declined")
    with django_capture_on_commit_callbacks(execute=True):
        observation_apply(observation=obs)
    assert _delivered_types(receiver, endpoint) == ["payment.failed"]


def test_payment_expired_then_paid_late(seller, endpoint, receiver, django_capture_on_commit_callbacks):
    payment = PaymentFactory(order=OrderFactory(seller=seller), expires_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert payment_expire_stale() == 1
    obs = Observation(provider="nano", external_tx_id="B" * 64, confirmed=True, pay_to=payment.pay_to,
                      amount=due_in_wire_units(payment.amount_due, "XNO"))
    with django_capture_on_commit_callbacks(execute=True):
        observation_apply(observation=obs)
    assert _delivered_types(receiver, endpoint) == ["payment.expired", "payment.paid_late"]


@pytest.mark.parametrize("outcome", ["succeeded", "failed"])
def test_refund_events(seller, endpoint, receiver, fake_providers, monkeypatch, outcome,
                       django_capture_on_commit_callbacks):
    monkeypatch.setattr(fake_providers.FakeProvider, "refund_status", outcome)
    payment = PaymentFactory(order=OrderFactory(seller=seller, status="paid"), status="completed", method="razorpay")
    with django_capture_on_commit_callbacks(execute=True):
        payment_refund(payment=payment, actor=Actor.system("test"), amount_minor=100)
    assert _delivered_types(receiver, endpoint) == [f"refund.{outcome}"]
    assert json.loads(receiver.requests[0][1])["data"]["status"] == outcome


def test_a_rolled_back_change_sends_nothing(seller, endpoint, receiver, django_capture_on_commit_callbacks):
    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                webhook_event_emit(seller_id=seller.pk, event_type="payment.completed", data={})
                raise RuntimeError("boom")
        except RuntimeError:
            pass
    assert callbacks == [] and receiver.requests == [] and not WebhookDelivery.objects.exists()
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).is_active

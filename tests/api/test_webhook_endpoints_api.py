"""Webhook endpoints API (create with secret once, list, delete, deliveries) and analytics summary."""
import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.api.test_orders_api import assert_error
from tests.factories import OrderFactory, PaymentFactory
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import webhook_endpoint_create

pytestmark = pytest.mark.django_db
URL = "/api/v1/webhook-endpoints/"


def test_create_shows_the_secret_once(api, seller):
    response = api.post(URL, {"url": "https://shop.example/hook", "events": ["payment.completed"]}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["secret"].startswith("whsec_") and body["events"] == ["payment.completed"] and body["is_active"]
    assert WebhookEndpoint.objects.get(pk=body["id"]).seller == seller
    listed = api.get(URL).json()
    assert listed["count"] == 1 and "secret" not in listed["results"][0]


@pytest.mark.parametrize("body, field", [
    ({"url": "not a url"}, "url"),
    ({"url": "ftp://shop.example/x"}, "url"),
    ({}, "url"),
    ({"url": "https://shop.example/h", "events": ["payment.teleported"]}, "events.0"),
    ({"url": "https://shop.example/h", "events": "payment.completed"}, "events"),
    ({"url": "https://shop.example/h", "description": 7}, "description"),
])
def test_create_bad_input_is_400(api, body, field):
    error = assert_error(api.post(URL, body, format="json"), 400, "invalid_request")
    assert field in error["fields"], error


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.5", "169.254.169.254", "::1", "fd00::1"])
def test_private_urls_are_refused_outside_debug_and_sandbox(api, settings, monkeypatch, address):
    settings.DEBUG, settings.SANDBOX_MODE = False, False
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [(family, socket.SOCK_STREAM, 6, "", (address, 443))])
    error = assert_error(api.post(URL, {"url": "https://sneaky.example/h"}, format="json"), 400)
    assert "public address" in error["fields"]["url"][0]
    assert not WebhookEndpoint.objects.exists()


def test_public_urls_are_accepted_outside_the_sandbox(api, settings, monkeypatch):
    settings.DEBUG, settings.SANDBOX_MODE = False, False
    monkeypatch.setattr(socket, "getaddrinfo",
                        lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443))])
    assert api.post(URL, {"url": "https://shop.example/h"}, format="json").status_code == 201


def test_loopback_is_allowed_in_debug(api, settings):
    settings.DEBUG = True
    assert api.post(URL, {"url": "http://127.0.0.1:9000/h"}, format="json").status_code == 201


def test_delete_and_isolation(api, seller, other_seller):
    mine = webhook_endpoint_create(seller=seller, url="https://a.example/h", events=[])
    theirs = webhook_endpoint_create(seller=other_seller, url="https://b.example/h", events=[])
    assert_error(api.delete(f"{URL}{theirs.pk}/"), 404)
    assert_error(api.get(f"{URL}{theirs.pk}/deliveries/"), 404)
    assert_error(api.delete(f"{URL}abc/"), 404)
    assert [e["id"] for e in api.get(URL).json()["results"]] == [mine.pk]
    assert api.delete(f"{URL}{mine.pk}/").status_code == 204
    assert list(WebhookEndpoint.objects.all()) == [theirs]


def test_deliveries_list(api, seller):
    endpoint = webhook_endpoint_create(seller=seller, url="https://a.example/h", events=[])
    for i in range(3):
        WebhookDelivery.objects.create(endpoint=endpoint, seller=seller, message_id=f"msg_{i}",
                                       event_type="payment.completed", payload={"type": "payment.completed"},
                                       status="failed", attempts=2, last_status_code=503)
    body = api.get(f"{URL}{endpoint.pk}/deliveries/", {"limit": 2}).json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
    first = body["results"][0]
    assert first["message_id"] == "msg_2" and first["status"] == "failed" and first["last_status_code"] == 503


def test_endpoint_count_is_capped(api, seller):
    for i in range(20):
        webhook_endpoint_create(seller=seller, url=f"https://a.example/{i}", events=[])
    assert_error(api.post(URL, {"url": "https://a.example/x"}, format="json"), 409, "too_many_endpoints")


def test_a_second_endpoint_for_a_url_is_refused(api, seller):
    assert api.post(URL, {"url": "https://a.example/x"}, format="json").status_code == 201
    assert_error(api.post(URL, {"url": "https://a.example/x"}, format="json"), 409, "endpoint_exists")


# --- analytics summary --------------------------------------------------------------------

def test_analytics_summary(api, seller, other_seller):
    from payments.services import ledger_record_payment

    now = timezone.now()
    for method in ("nano", "razorpay"):
        order = OrderFactory(seller=seller, status="paid", amount=10000)
        ledger_record_payment(payment=PaymentFactory(order=order, method=method, status="completed",
                                                     completed_at=now))
    OrderFactory(seller=seller)  # open: lowers conversion
    OrderFactory(seller=other_seller, status="paid")
    body = api.get("/api/v1/analytics/summary", {"tz": "Asia/Kolkata"}).json()
    assert body["gross"] == 20000 and body["fees"] == 500 and body["net"] == 19500
    assert body["orders_paid"] == 2 and body["orders_created"] == 3
    assert body["conversion_rate"] == pytest.approx(0.6667, abs=1e-4)
    assert body["by_method"] == {"nano": 10000, "razorpay": 10000}
    assert len(body["by_day"]) == 30 and sum(d["gross"] for d in body["by_day"]) == 20000
    today = now.astimezone(seller.tz).date()
    past = api.get("/api/v1/analytics/summary", {"from": str(today - timedelta(days=60)),
                                                 "to": str(today - timedelta(days=31))}).json()
    assert past["gross"] == 0 and past["conversion_rate"] is None


@pytest.mark.parametrize("params", [{"tz": "Mars/Base"}, {"from": "2026-13-01"},
                                    {"from": "2026-02-01", "to": "2026-01-01"},
                                    {"from": "2020-01-01", "to": "2026-01-01"}])
def test_analytics_bad_params_are_400(api, params):
    assert_error(api.get("/api/v1/analytics/summary", params), 400, "invalid_request")

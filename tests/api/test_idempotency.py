"""Idempotency-Key on every POST: replay, conflict, expiry, in-progress markers, concurrency."""
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from orders.models import Order
from payments.models import Refund
from sellers import idempotency
from sellers.models import IdempotencyKey, WebhookEndpoint
from tests.api.conftest import client_for
from tests.api.test_orders_api import assert_error
from tests.concurrency import run_at_once
from tests.factories import OrderFactory, PaymentFactory

URL = "/api/v1/orders/"


def post(api, body, key, url=URL):
    return api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db
def test_same_key_and_body_replays_the_first_response(api, order_body):
    first = post(api, order_body, "k-1")
    second = post(api, order_body, "k-1")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json() and second["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1


@pytest.mark.django_db
def test_body_equality_ignores_key_order_and_whitespace(api, order_body):
    first = post(api, order_body, "k-1")
    reordered = dict(reversed(list(order_body.items())))
    second = api.post(URL, __import__("json").dumps(reordered, indent=4), content_type="application/json",
                      HTTP_IDEMPOTENCY_KEY="k-1")
    assert second.json()["id"] == first.json()["id"]


@pytest.mark.django_db
def test_same_key_with_a_different_body_is_409(api, order_body):
    post(api, order_body, "k-1")
    order_body["reference"] = "A-2"
    assert_error(post(api, order_body, "k-1"), 409, "idempotency_key_reused")
    assert Order.objects.count() == 1


@pytest.mark.django_db
def test_same_key_on_another_endpoint_is_409(api, order_body, seller):
    order_id = post(api, order_body, "k-1").json()["id"]
    assert_error(post(api, {"method": "nano"}, "k-1", f"{URL}{order_id}/payments/"), 409, "idempotency_key_reused")


@pytest.mark.django_db
def test_keys_are_per_seller(api, other_api, order_body):
    assert post(api, order_body, "shared").status_code == 201
    assert post(other_api, order_body, "shared").status_code == 201
    assert Order.objects.count() == 2


@pytest.mark.django_db
def test_an_error_is_not_stored_so_a_fixed_retry_runs(api, order_body):
    bad = {**order_body, "currency": "XYZ"}
    assert post(api, bad, "k-1").status_code == 400
    assert not IdempotencyKey.objects.exists()
    assert post(api, order_body, "k-1").status_code == 201


@pytest.mark.django_db
def test_keys_expire_after_24_hours(api, order_body):
    post(api, order_body, "k-1")
    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=1)):
        order_body["reference"] = "A-2"
        response = post(api, order_body, "k-1")
    assert response.status_code == 201 and response.json()["reference"] == "A-2"
    assert Order.objects.count() == 2


@pytest.mark.django_db
def test_a_fresh_in_progress_key_is_409_and_an_abandoned_one_is_reclaimed(api, order_body, seller, monkeypatch):
    monkeypatch.setattr(idempotency, "WAIT_SECONDS", 0.1)
    response = post(api, order_body, "k-1")
    IdempotencyKey.objects.filter(key="k-1").update(response_status=None, response_body=None)
    Order.objects.all().delete()
    assert_error(post(api, order_body, "k-1"), 409, "idempotency_key_in_progress")
    IdempotencyKey.objects.filter(key="k-1").update(created_at=timezone.now() - timedelta(minutes=6))
    reclaimed = post(api, order_body, "k-1")
    assert reclaimed.status_code == 201 and reclaimed.json()["id"] != response.json()["id"]


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "x" * 256])
def test_bad_keys_are_400(api, order_body, key):
    assert_error(post(api, order_body, key), 400, "invalid_request")


@pytest.mark.django_db
def test_a_replayed_refund_refunds_once(api, seller):
    order = OrderFactory(seller=seller, status="paid")
    payment = PaymentFactory(order=order, status="completed", completed_at=timezone.now())
    url = f"/api/v1/payments/{payment.pk}/refunds/"
    first, second = post(api, {"amount": 100}, "r-1", url), post(api, {"amount": 100}, "r-1", url)
    assert first.status_code == second.status_code == 201 and first.json() == second.json()
    assert Refund.objects.count() == 1


@pytest.mark.django_db
def test_a_replayed_endpoint_create_shows_the_same_secret_once_created(api):
    body = {"url": "https://shop.example/hook", "events": []}
    first = post(api, body, "w-1", "/api/v1/webhook-endpoints/")
    second = post(api, body, "w-1", "/api/v1/webhook-endpoints/")
    assert first.json() == second.json() and WebhookEndpoint.objects.count() == 1


# --- concurrency (PostgreSQL: real row locks and unique-index waits) -----------------------

def _race(clients, body, key, slow_create, monkeypatch, wait=None):
    import orders.api

    real = orders.api.order_create

    def slow(**kwargs):
        import time

        time.sleep(slow_create)
        return real(**kwargs)

    monkeypatch.setattr(orders.api, "order_create", slow)
    if wait is not None:
        monkeypatch.setattr(idempotency, "WAIT_SECONDS", wait)
    return run_at_once(*[lambda client=client: post(client, body, key) for client in clients])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_create_one_order(seller, order_body, monkeypatch):
    api = client_for(seller)
    results = _race([api, api, api], order_body, "race-1", slow_create=0.3, monkeypatch=monkeypatch)
    assert [r.status_code for r in results] == [201, 201, 201]
    assert len({r.json()["id"] for r in results}) == 1
    assert Order.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_twin_that_cannot_wait_gets_409_in_progress(seller, order_body, monkeypatch):
    api = client_for(seller)
    results = _race([api, api], order_body, "race-2", slow_create=0.5, monkeypatch=monkeypatch, wait=0.05)
    assert sorted(r.status_code for r in results) == [201, 409]
    assert Order.objects.count() == 1

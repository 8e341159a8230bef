"""Idempotency-Key on every POST: replay, conflict, expiry, in-progress markers, concurrency."""
import time
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from orders.models import Order
from payments.models import Payment, Refund
from sellers import idempotency
from sellers.models import IdempotencyKey
from tests.api.conftest import client_for
from tests.api.test_orders_api import assert_error
from tests.concurrency import run_at_once
from tests.factories import OrderFactory, PaymentFactory
from webhooks.models import WebhookEndpoint

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
    payment = PaymentFactory(order=order, status="completed", completed_at=timezone.now(), method="razorpay")
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

def _race(calls, monkeypatch, slow: tuple, seconds: float, wait=None):
    """Run `calls` at once with `slow` = (module, name) delayed by `seconds`."""
    module, name = slow
    real = getattr(module, name)

    def slowed(**kwargs):
        time.sleep(seconds)
        return real(**kwargs)

    monkeypatch.setattr(module, name, slowed)
    if wait is not None:
        monkeypatch.setattr(idempotency, "WAIT_SECONDS", wait)
    return run_at_once(*calls)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_order_creates_with_one_key_create_one_order_and_give_one_answer(seller, order_body, monkeypatch):
    import orders.api

    api = client_for(seller)
    results = _race([lambda: post(api, order_body, "race-1")] * 3, monkeypatch, (orders.api, "order_create"), 0.3)
    assert [r.status_code for r in results] == [201, 201, 201]
    assert len({r.json()["id"] for r in results}) == 1
    assert sorted(r.get("Idempotent-Replayed", "") for r in results) == ["", "true", "true"]
    assert Order.objects.count() == 1  # the twins' own orders were rolled back with their claims


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_nano_payment_starts_with_one_key_start_one_payment(seller, monkeypatch):
    import payments.api

    order = OrderFactory(seller=seller)
    api, url = client_for(seller), f"{URL}{order.pk}/payments/"
    results = _race([lambda: post(api, {"method": "nano"}, "race-p", url)] * 2, monkeypatch,
                    (payments.api, "payment_start"), 0.3)
    assert [r.status_code for r in results] == [201, 201]
    assert results[0].json() == results[1].json()
    assert Payment.objects.filter(order=order).count() == 1
    assert IdempotencyKey.objects.get(key="race-p").response_body["id"] == results[0].json()["id"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_marker_held_key_makes_a_twin_that_cannot_wait_get_409_in_progress(seller, monkeypatch):
    import sellers.api

    api, body = client_for(seller), {"url": "https://shop.example/hook", "events": []}
    results = _race([lambda: post(api, body, "race-2", "/api/v1/webhook-endpoints/")] * 2, monkeypatch,
                    (sellers.api, "webhook_endpoint_create"), 0.5, wait=0.05)
    assert sorted(r.status_code for r in results) == [201, 409]
    assert WebhookEndpoint.objects.filter(seller=seller).count() == 1


@pytest.mark.django_db
def test_an_order_and_its_key_commit_together_or_not_at_all(api, order_body, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("the process died while recording the key")

    monkeypatch.setattr(idempotency, "_recorded", crash)
    assert post(api, order_body, "k-crash").status_code == 500  # the API's catch-all answer
    assert not Order.objects.exists() and not IdempotencyKey.objects.exists()


@pytest.mark.django_db
def test_gateway_payment_starts_hold_the_key_with_a_marker_outside_the_work(api, seller, monkeypatch):
    """A gateway start calls out: it must not run inside the key's transaction."""
    from django.db import connection

    seen = {}

    def fake_start(**kwargs):
        seen["in_atomic_block"] = connection.in_atomic_block
        seen["marker"] = list(IdempotencyKey.objects.filter(key="g-1").values_list("response_status", flat=True))
        return PaymentFactory(order=order, method="razorpay")

    import payments.api

    order = OrderFactory(seller=seller)
    monkeypatch.setattr(payments.api, "payment_start", fake_start)
    response = post(api, {"method": "razorpay"}, "g-1", f"{URL}{order.pk}/payments/")
    assert response.status_code == 201
    assert seen["marker"] == [None]  # claimed and committed before the work
    assert IdempotencyKey.objects.get(key="g-1").response_status == 201

"""Orders API: create, list (filters, pagination, isolation), detail, PATCH, and the error envelope."""
from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Order, OrderEvent
from sellers.api_auth import ApiKeyRateThrottle
from sellers.models import ApiKey
from sellers.services import api_key_revoke
from tests.factories import OrderFactory, PaymentFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/orders/"


def assert_error(response, status: int, code: str | None = None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def test_create_returns_the_contract_shape(api, order_body, seller, settings):
    settings.SITE_URL = "https://kassa.example"
    response = api.post(URL, order_body, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    order = Order.objects.get(pk=body["id"])
    assert order.seller == seller and order.amount == 99800
    assert body["status"] == "open" and body["amount"] == 99800 and body["currency"] == "INR"
    assert body["reference"] == "A-1" and body["metadata"] == {"cart": "42"}
    assert body["items"] == [{"name": "Art print", "unit_amount": 49900, "quantity": 2, "amount": 99800}]
    assert body["checkout_url"] == f"https://kassa.example/checkout/{order.checkout_token}/"
    event = OrderEvent.objects.get(order=order)
    assert event.type == "order.created" and event.actor_type == "api"


def test_lowercase_currency_is_normalised(api, order_body):
    order_body["currency"] = "usd"
    assert api.post(URL, order_body, format="json").json()["currency"] == "USD"


@pytest.mark.parametrize("mutate, field", [
    (lambda b: b["items"][0].update(unit_amount=0), "items.0.unit_amount"),
    (lambda b: b["items"][0].update(unit_amount=-5), "items.0.unit_amount"),
    (lambda b: b["items"][0].update(unit_amount="49900"), "items.0.unit_amount"),
    (lambda b: b["items"][0].update(unit_amount=499.5), "items.0.unit_amount"),
    (lambda b: b["items"][0].update(unit_amount=True), "items.0.unit_amount"),
    (lambda b: b["items"][0].update(unit_amount=10**30), "items.0.unit_amount"),
    (lambda b: b["items"][0].update(quantity=0), "items.0.quantity"),
    (lambda b: b.update(items=[]), "items"),
    (lambda b: b.update(items="many"), "items"),
    (lambda b: b.update(items=[{"name": "x", "unit_amount": 10**12, "quantity": 100}]), "items"),
    (lambda b: b.update(currency="XYZ"), "currency"),
    (lambda b: b.update(currency=978), "currency"),
    (lambda b: b.pop("currency"), "currency"),
    (lambda b: b.update(customer_email="not-an-email"), "customer_email"),
    (lambda b: b.update(metadata=["a"]), "metadata"),
    (lambda b: b.update(metadata={f"k{i}": i for i in range(51)}), "metadata"),
    (lambda b: b.update(reference="r" * 65), "reference"),
])
def test_bad_input_is_400_with_the_field_named(api, order_body, mutate, field):
    mutate(order_body)
    error = assert_error(api.post(URL, order_body, format="json"), 400, "invalid_request")
    assert field in error["fields"], error
    assert not Order.objects.exists()


@pytest.mark.parametrize("raw", [b'{"currency": "INR", ', b"[1, 2", b"NaN", b'{"reference": "\\u0000"}',
                                 b'{"reference": "\\ud800"}'])
def test_malformed_json_is_400(api, raw):
    assert_error(api.post(URL, raw, content_type="application/json"), 400, "malformed_json")


def test_body_over_one_megabyte_is_413(api, order_body):
    order_body["metadata"] = {"blob": "x" * (1024 * 1024)}
    assert_error(api.post(URL, order_body, format="json"), 413, "payload_too_large")


def test_missing_invalid_and_revoked_keys_are_401(client, api, seller):
    assert_error(client.get(URL), 401)
    assert_error(client.get(URL, HTTP_AUTHORIZATION="Bearer sk_test_nope"), 401)
    assert_error(client.get(URL, HTTP_AUTHORIZATION="Basic abc"), 401)
    assert api.get(URL).status_code == 200
    api_key_revoke(api_key=ApiKey.objects.get(seller=seller))
    assert_error(api.get(URL), 401)


def test_throttled_requests_get_429(api, monkeypatch):
    monkeypatch.setattr(ApiKeyRateThrottle, "rate", "3/min", raising=False)
    statuses = [api.get(URL).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert_error(api.get(URL), 429, "throttled")


def test_throttle_is_per_key(api, other_api, monkeypatch):
    monkeypatch.setattr(ApiKeyRateThrottle, "rate", "2/min", raising=False)
    assert [api.get(URL).status_code for _ in range(3)] == [200, 200, 429]
    assert other_api.get(URL).status_code == 200


# --- list -------------------------------------------------------------------------------

def test_list_is_paginated_newest_first_and_scoped(api, seller, other_seller):
    now = timezone.now()
    mine = [OrderFactory(seller=seller, created_at=now - timedelta(minutes=i)) for i in range(3)]
    OrderFactory(seller=other_seller)
    body = api.get(URL, {"limit": 2}).json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["previous"] is None
    assert [r["id"] for r in body["results"]] == [str(mine[0].pk), str(mine[1].pk)]
    page2 = api.get(body["next"]).json()
    assert [r["id"] for r in page2["results"]] == [str(mine[2].pk)] and page2["next"] is None


def test_list_filters(api, seller):
    now = timezone.now()
    old = OrderFactory(seller=seller, created_at=now - timedelta(days=10), customer_email="a@x.io")
    paid = OrderFactory(seller=seller, status="paid", customer_email="b@x.io", partner_user_id="pu-1")
    PaymentFactory(order=paid, method="nano")
    ids = lambda params: {r["id"] for r in api.get(URL, params).json()["results"]}  # noqa: E731
    assert ids({"status": "paid"}) == {str(paid.pk)}
    assert ids({"customer_email": "A@X.IO"}) == {str(old.pk)}
    assert ids({"method": "nano"}) == {str(paid.pk)}
    assert ids({"method": "razorpay"}) == set()
    assert ids({"partner_user_id": "pu-1"}) == {str(paid.pk)}
    assert ids({"created_before": (now - timedelta(days=1)).isoformat()}) == {str(old.pk)}
    assert ids({"created_after": (now - timedelta(days=1)).isoformat()}) == {str(paid.pk)}


@pytest.mark.parametrize("params", [{"status": "bogus"}, {"created_after": "yesterday"}, {"method": "paypal"}])
def test_bad_filters_are_400(api, params):
    assert_error(api.get(URL, params), 400, "invalid_request")


def test_list_query_count_is_constant(api, seller, django_assert_max_num_queries):
    for _ in range(15):
        OrderFactory(seller=seller)
    with django_assert_max_num_queries(6):  # key, count, page, items (+ last_used_at update)
        assert len(api.get(URL).json()["results"]) == 15


# --- detail ------------------------------------------------------------------------------

def test_detail_has_payments_and_a_chronological_timeline(api, order_body, seller):
    order_id = api.post(URL, order_body, format="json").json()["id"]
    payment = api.post(f"{URL}{order_id}/payments/", {"method": "nano"}, format="json").json()
    body = api.get(f"{URL}{order_id}/").json()
    assert [p["id"] for p in body["payments"]] == [payment["id"]]
    types = [e["type"] for e in body["events"]]
    assert types[0] == "order.created" and "payment.started" in types and "order.payment_started" in types
    stamps = [e["created_at"] for e in body["events"]]
    assert stamps == sorted(stamps)
    assert next(e for e in body["events"] if e["type"] == "payment.started")["payment"] == payment["id"]


def test_detail_query_count_is_constant(api, seller, django_assert_max_num_queries):
    order = OrderFactory(seller=seller)
    for _ in range(5):
        PaymentFactory(order=order)
    with django_assert_max_num_queries(8):
        assert len(api.get(f"{URL}{order.pk}/").json()["payments"]) == 5


@pytest.mark.parametrize("suffix", ["", "payments/"])
def test_another_sellers_order_is_404(api, other_seller, suffix):
    theirs = OrderFactory(seller=other_seller)
    method = api.get if not suffix else (lambda url: api.post(url, {"method": "nano"}, format="json"))
    assert_error(method(f"{URL}{theirs.pk}/{suffix}"), 404, "not_found")
    assert_error(api.patch(f"{URL}{theirs.pk}/", {"delivery_info": "x"}, format="json"), 404)
    assert Order.objects.get(pk=theirs.pk).delivery_info == ""


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "123", "00000000-0000-0000-0000-000000000000"])
def test_malformed_or_unknown_ids_are_json_404(api, bad_id):
    assert_error(api.get(f"{URL}{bad_id}/"), 404)


# --- PATCH -------------------------------------------------------------------------------

def test_patch_delivery_info_writes_an_event(api, seller):
    order = OrderFactory(seller=seller)
    response = api.patch(f"{URL}{order.pk}/", {"delivery_info": "DHL 123"}, format="json")
    assert response.status_code == 200 and response.json()["delivery_info"] == "DHL 123"
    event = OrderEvent.objects.get(order=order, type="order.delivery_updated")
    assert event.actor_type == "api" and event.data["delivery_info"] == "DHL 123"


def test_patch_fulfils_a_paid_order(api, seller):
    order = OrderFactory(seller=seller, status="paid")
    body = api.patch(f"{URL}{order.pk}/", {"status": "fulfilled", "delivery_info": "Picked up"}, format="json").json()
    assert body["status"] == "fulfilled" and body["delivery_info"] == "Picked up" and body["fulfilled_at"]
    assert OrderEvent.objects.filter(order=order, type="order.fulfilled", to_status="fulfilled").exists()
    again = api.patch(f"{URL}{order.pk}/", {"status": "fulfilled"}, format="json")
    assert again.status_code == 200  # fulfilling twice is harmless


def test_patch_cannot_fulfil_an_open_order(api, seller):
    order = OrderFactory(seller=seller)
    assert_error(api.patch(f"{URL}{order.pk}/", {"status": "fulfilled"}, format="json"), 409)
    assert Order.objects.get(pk=order.pk).status == "open"


@pytest.mark.parametrize("body", [{}, {"status": "paid"}, {"delivery_info": 5}])
def test_patch_bad_input_is_400(api, seller, body):
    order = OrderFactory(seller=seller)
    assert_error(api.patch(f"{URL}{order.pk}/", body, format="json"), 400)


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000,
                                  b'{"reference": "A", "metadata": ' + b'{"a": ' * 40 + b"1" + b"}" * 41])
def test_deeply_nested_json_is_a_clear_400(api, body):
    """RecursionError inside the JSON parser was a 500; anything nested past 32 levels is refused."""
    response = api.post("/api/v1/orders/", data=body, content_type="application/json")
    assert response.status_code == 400
    assert "nested" in response.json()["error"]["message"]


@pytest.mark.parametrize("item", [{"name": "A", "unit_amount": 10**40}, {"name": "A", "unit_amount": 10**12 + 1},
                                  {"name": "A", "unit_amount": 10**12, "quantity": 2}])
def test_amounts_past_the_limit_are_a_clear_400(api, order_body, item):
    order_body["items"] = [item]
    response = api.post("/api/v1/orders/", order_body, format="json")
    assert response.status_code == 400 and "10000000000" in str(response.json()["error"]["fields"])

"""Query budgets for the hot paths (bench/hot_paths.py measures them on PostgreSQL).

The same statements run on SQLite and PostgreSQL (one data path), so one budget holds for
both. The counts include the test transaction's savepoints (the API's own transaction is
one inside pytest-django's): in production that is BEGIN and COMMIT instead.
"""
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from orders.models import Order
from payments.models import LedgerEntry, Payment
from payments.money import RAW_PER_MICRO_XNO
from payments.providers import registry
from payments.providers.base import Observation
from payments.services import observation_apply
from sellers.services import api_key_create
from tests.factories import OrderFactory, PaymentFactory, PayoutDestinationFactory
from webhooks.models import WebhookDelivery
from webhooks.services import webhook_endpoint_create

pytestmark = pytest.mark.django_db

ORDER_BODY = {"reference": "P-1", "currency": "INR", "customer_email": "x@y.z",
              "items": [{"name": "Art print", "unit_amount": 49900, "quantity": 2}]}


@pytest.fixture(autouse=True)
def real_nano_provider():
    """The real NanoProvider: quote (fixed sandbox rate) and start make no RPC call."""
    registry.reset_providers()
    yield
    registry.reset_providers()


@pytest.fixture
def api(seller):
    PayoutDestinationFactory(seller=seller)
    _, key = api_key_create(seller=seller)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    client.post("/api/v1/orders/", ORDER_BODY, format="json")  # first use stamps last_used_at: not the hot path
    return client


def post(api, path, body):
    return api.post(path, body, format="json", headers={"Idempotency-Key": uuid.uuid4().hex})


def _inserts(queries) -> int:
    return sum("INSERT" in query["sql"] for query in queries.captured_queries)


def test_api_order_create_query_budget(api, django_assert_max_num_queries):
    # key read, BEGIN, four INSERTs, COMMIT
    with django_assert_max_num_queries(7) as queries:
        response = post(api, "/api/v1/orders/", ORDER_BODY)
    assert response.status_code == 201, response.content
    assert _inserts(queries) == 4  # order, item, event, Idempotency-Key
    order = Order.objects.get(pk=response.json()["id"])
    assert order.amount == 99800 and order.items.count() == 1 and order.events.count() == 1


def test_api_nano_payment_start_query_budget(api, seller, django_assert_max_num_queries):
    order = OrderFactory(seller=seller, amount=99800)
    # key read, BEGIN, order lock, payout destinations, active payment, four INSERTs, COMMIT
    with django_assert_max_num_queries(10) as queries:
        response = post(api, f"/api/v1/orders/{order.pk}/payments/", {"method": "nano"})
    assert response.status_code == 201, response.content
    assert _inserts(queries) == 4  # payment (its amount slot may clash), two events, Idempotency-Key
    body = response.json()
    payment = Payment.objects.get(pk=body["id"])
    # The URI is written with the row (Nano's start() has no I/O), not by a second UPDATE.
    assert payment.payment_uri == body["payment_uri"] == f"nano:{payment.pay_to}?amount={body['amount_due']}"
    assert payment.amount_reserved and payment.events.filter(type="payment.started").exists()
    assert order.events.filter(type="order.payment_started").exists()


def test_api_payment_start_reads_the_seller_once_and_only_the_active_payment_id(api, seller,
                                                                               django_assert_max_num_queries):
    """What makes a start cheap beyond the statement count (bench/api.py): the order lock does
    not read the seller row again (the key lookup did), and the check for an active payment,
    which almost never finds one, selects only the id."""
    order = OrderFactory(seller=seller, amount=99800)
    with django_assert_max_num_queries(10) as queries:
        response = post(api, f"/api/v1/orders/{order.pk}/payments/", {"method": "nano"})
    assert response.status_code == 201, response.content
    sqls = [query["sql"] for query in queries.captured_queries]
    assert sum('"sellers_seller"' in sql for sql in sqls) == 1  # the API key lookup's join
    reads = [sql for sql in sqls if sql.startswith("SELECT") and 'FROM "payments_payment"' in sql]
    assert len(reads) == 1 and reads[0].split(" FROM ")[0] == 'SELECT "payments_payment"."id" AS "pk"', reads


def test_a_second_start_loads_the_payment_it_reuses(api, seller):
    order = OrderFactory(seller=seller, amount=99800)
    first = post(api, f"/api/v1/orders/{order.pk}/payments/", {"method": "nano"}).json()
    second = post(api, f"/api/v1/orders/{order.pk}/payments/", {"method": "nano"})
    assert second.status_code == 201 and second.json() == first
    assert Payment.objects.filter(order=order).count() == 1


def test_observation_apply_completion_query_budget(seller, django_assert_max_num_queries):
    endpoint = webhook_endpoint_create(seller=seller, url="https://example.com/hook",
                                       events=["payment.completed", "order.paid"])
    payment = PaymentFactory(order=OrderFactory(seller=seller))
    old_reservation = payment.reserved_until
    obs = Observation(provider="nano", external_tx_id="C" * 64, confirmed=True, pay_to=payment.pay_to,
                      amount=payment.amount_due * RAW_PER_MICRO_XNO)
    # 16 + one bulk INSERT of both deliveries, + email in the same transaction (README "Email"): the
    # receipt (the order's items, its outbox INSERT … ON CONFLICT DO NOTHING) and the seller's
    # order-paid notice (their email settings, their recipients).
    emails = 4
    with django_assert_max_num_queries(17 + emails):
        result = observation_apply(observation=obs)
    payment.refresh_from_db()
    assert result.changed and payment.status == "completed" and payment.order.status == "paid"
    # Held through the monitoring window from completion (the factory's was 30 minutes later).
    assert payment.reserved_until == payment.completed_at + timedelta(hours=settings.PAYMENT_MONITORING_HOURS)
    assert payment.reserved_until != old_reservation and payment.amount_received == str(obs.amount)
    assert result.receipt.payment_id == payment.pk and result.receipt.resolution == "matched"
    assert LedgerEntry.objects.filter(payment=payment, kind="payment").count() == 1
    assert sorted(WebhookDelivery.objects.filter(endpoint=endpoint).values_list("event_type", flat=True)) == [
        "order.paid", "payment.completed"]

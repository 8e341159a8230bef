"""The beat expiry sweep is set-based: one UPDATE … RETURNING per batch, events and outbox rows
from the returned rows, and order status written by orders.services.orders_expire."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.actors import Actor
from orders.models import Order, OrderEvent
from orders.services import orders_expire
from payments.models import Payment, PaymentEvent
from payments.services import payment_expire_stale
from tests.factories import OrderFactory, PaymentFactory, SellerFactory
from webhooks.models import WebhookDelivery
from webhooks.services import webhook_endpoint_create

pytestmark = pytest.mark.django_db

STALE = timedelta(hours=1)


def _stale(n: int, seller=None) -> list[Payment]:
    seller = seller or SellerFactory()
    return [PaymentFactory(order=OrderFactory(seller=seller), expires_at=timezone.now() - STALE) for _ in range(n)]


def test_orders_expire_moves_only_open_orders_and_writes_their_events():
    open_order, paid_order = OrderFactory(), OrderFactory(status=Order.Status.PAID)
    with transaction.atomic():
        expired = orders_expire(order_ids={open_order.pk, paid_order.pk}, actor=Actor.system("expiry"))
    assert expired == [open_order.pk]
    open_order.refresh_from_db()
    paid_order.refresh_from_db()
    assert (open_order.status, paid_order.status) == ("expired", "paid")
    event = OrderEvent.objects.get(order=open_order)
    assert (event.type, event.from_status, event.to_status, event.actor_type) == (
        "order.expired",
        "open",
        "expired",
        "system",
    )
    assert event.data == {"actor": "system", "actor_label": "expiry"}
    assert not OrderEvent.objects.filter(order=paid_order).exists()


def _sweep_statements(n: int) -> int:
    _stale(n)
    with CaptureQueriesContext(connection) as queries:
        assert payment_expire_stale() == n
    return len(queries)


def test_the_sweep_runs_the_same_statements_for_three_payments_as_for_thirty():
    assert _sweep_statements(3) == _sweep_statements(30)


def test_the_sweep_writes_events_orders_and_outbox_rows_from_the_returned_rows(django_capture_on_commit_callbacks):
    listened, quiet = SellerFactory(), SellerFactory()
    endpoint = webhook_endpoint_create(seller=listened, url="https://example.com/hook", events=["payment.expired"])
    heard, unheard = _stale(2, listened), _stale(2, quiet)
    with django_capture_on_commit_callbacks(execute=False):
        assert payment_expire_stale() == 4
    for payment in heard + unheard:
        payment.refresh_from_db()
        assert payment.status == "expired" and payment.order.status == "expired"
        assert (
            PaymentEvent.objects.filter(
                payment=payment, type="payment.expired", from_status="pending", to_status="expired"
            ).count()
            == 1
        )
    deliveries = WebhookDelivery.objects.filter(event_type="payment.expired")
    assert sorted(d.payload["data"]["id"] for d in deliveries) == sorted(str(p.pk) for p in heard)
    assert {d.endpoint_id for d in deliveries} == {endpoint.pk}
    assert deliveries[0].payload["data"]["status"] == "expired"
    assert payment_expire_stale() == 0  # applied twice, changed once

"""config.inserts.insert_unless_conflict: the one hand-written statement, the same on SQLite
and PostgreSQL; and the hot paths' rows get their ids at once (no deferred inserts)."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from config.inserts import insert_unless_conflict
from orders.actors import Actor
from orders.models import Order, OrderEvent
from orders.services import ItemSpec, order_create
from payments.models import InboundWebhook
from sellers.models import IdempotencyKey
from tests.factories import SellerFactory

pytestmark = pytest.mark.django_db


def _columns(obj) -> dict:
    return {field.attname: getattr(obj, field.attname) for field in obj._meta.concrete_fields}


def test_it_writes_every_column_as_the_orm_reads_it_back():
    order = Order(seller=SellerFactory(), currency="INR", amount=49_900, reference="R-1", metadata={"k": ["v", 1]})
    assert insert_unless_conflict(order)
    assert not order._state.adding
    assert _columns(Order.objects.get(pk=order.pk)) == _columns(order)


def test_it_sets_a_database_assigned_pk():
    order = Order.objects.create(seller=SellerFactory(), currency="INR", amount=100)
    event = OrderEvent(order=order, type="order.created", data={"amount": 100})
    assert insert_unless_conflict(event)
    assert list(order.events.values_list("pk", "type", "data")) == [(event.pk, "order.created", {"amount": 100})]


def test_a_taken_unique_key_is_false_without_a_savepoint_and_the_transaction_goes_on():
    seller = SellerFactory()
    first = IdempotencyKey(seller=seller, key="k1", request_hash="a", method="POST", path="/x")
    twin = IdempotencyKey(seller=seller, key="k1", request_hash="b", method="POST", path="/x")
    with CaptureQueriesContext(connection) as queries, transaction.atomic(savepoint=False):
        assert insert_unless_conflict(first)
        assert not insert_unless_conflict(twin)
        assert IdempotencyKey.objects.filter(seller=seller).count() == 1  # the transaction still works
    sql = [query["sql"] for query in queries.captured_queries]
    assert len(sql) == 3 and "ON CONFLICT DO NOTHING RETURNING" in sql[0]
    with pytest.raises(IntegrityError), transaction.atomic():
        IdempotencyKey.objects.create(seller=seller, key="k1", request_hash="c", method="POST", path="/x")


def test_a_partial_unique_index_counts_as_a_conflict():
    row = {"provider": "razorpay", "event_id": "evt_1", "signature_valid": True, "body": "{}"}
    first, twin = InboundWebhook(**row), InboundWebhook(**row)
    assert insert_unless_conflict(first) and first.pk is not None
    assert not insert_unless_conflict(twin) and twin.pk is None
    assert insert_unless_conflict(InboundWebhook(**{**row, "signature_valid": False}))  # outside the index


def test_rows_written_inside_the_api_transaction_have_their_ids_at_once():
    seller = SellerFactory()
    with transaction.atomic(durable=True):
        order = order_create(
            seller=seller, currency="INR", items=[ItemSpec(name="Print", unit_amount=100)], actor=Actor.system("test")
        )
        event = order.events.get()
        item = order.items.get()
    assert event.pk is not None and item.pk is not None


@pytest.mark.postgres
def test_repeated_orm_statements_are_prepared_on_the_server():
    """DB_PREPARED_STATEMENTS: Django's server_side_binding plus psycopg's prepare_threshold
    (settings.DATABASES) make PostgreSQL plan the hot paths' repeated statements once."""
    from sellers.selectors import api_key_lookup

    seller = SellerFactory()
    for n in range(6):
        api_key_lookup("sk_test_prepared")
        insert_unless_conflict(IdempotencyKey(seller=seller, key=f"p{n}", request_hash="h", method="POST", path="/"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any('FROM "sellers_apikey"' in sql for sql in prepared)
    assert any(sql.startswith('INSERT INTO "sellers_idempotencykey"') for sql in prepared)

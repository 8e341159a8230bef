"""config.statements: the hot paths' prepared writes and reads store and load exactly what the ORM does."""
import pytest
from django.db import IntegrityError, connection, transaction
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from config import statements
from orders.models import Order, OrderEvent
from payments.selectors import order_locked_for_payment
from sellers.models import ApiKey, IdempotencyKey, Seller
from sellers.selectors import api_key_lookup
from sellers.services import api_key_create, payout_destination_set
from tests.factories import OrderFactory, SellerFactory, nano_address

pytestmark = pytest.mark.django_db


def _columns(obj) -> dict:
    return {field.attname: getattr(obj, field.attname) for field in obj._meta.concrete_fields}


def test_insert_writes_every_column_as_the_orm_reads_it_back():
    seller = SellerFactory()
    order = Order(seller=seller, currency="INR", amount=49_900, reference="R-1", metadata={"k": ["v", 1]})
    assert statements.insert(order)
    assert not order._state.adding
    assert _columns(Order.objects.get(pk=order.pk)) == _columns(order)


def test_insert_sets_a_database_assigned_pk_and_events_land_on_the_timeline():
    order = Order(seller=SellerFactory(), currency="INR", amount=100)
    statements.insert(order)
    event = OrderEvent(order=order, type="order.created", data={"amount": 100})
    statements.insert(event)
    assert event.pk is not None
    assert list(order.events.values_list("pk", "type", "data")) == [(event.pk, "order.created", {"amount": 100})]


def test_insert_skipping_conflicts_reports_a_taken_unique_key_without_breaking_the_transaction():
    seller = SellerFactory()
    first = IdempotencyKey(seller=seller, key="k1", request_hash="a", method="POST", path="/x")
    twin = IdempotencyKey(seller=seller, key="k1", request_hash="b", method="POST", path="/x")
    with transaction.atomic():
        assert statements.insert(first, skip_conflicts=True)
        assert not statements.insert(twin, skip_conflicts=True)
        assert IdempotencyKey.objects.filter(seller=seller).count() == 1  # the transaction still works
    with pytest.raises(IntegrityError), transaction.atomic():
        statements.insert(IdempotencyKey(seller=seller, key="k1", request_hash="c", method="POST", path="/x"))


def test_update_writes_only_the_named_fields():
    row = IdempotencyKey.objects.create(seller=SellerFactory(), key="k", request_hash="h", method="POST", path="/p")
    row.response_status, row.response_body, row.path = 201, {"id": "x", "n": [1, 2]}, "/changed-not-saved"
    statements.update(row, "response_status", "response_body")
    stored = IdempotencyKey.objects.get(pk=row.pk)
    assert (stored.response_status, stored.response_body, stored.path) == (201, {"id": "x", "n": [1, 2]}, "/p")


@pytest.mark.postgres
def test_select_loads_instances_equal_to_the_orms():
    seller = SellerFactory(enabled_methods=["nano", "razorpay"])
    (key_row, _key) = api_key_create(seller=seller, name="K")
    loaded = statements.select(ApiKey, "prefix = %s", [key_row.prefix])
    assert len(loaded) == 1 and _columns(loaded[0]) == _columns(ApiKey.objects.get(pk=key_row.pk))
    assert not loaded[0]._state.adding
    found = api_key_lookup(key_row.prefix)
    assert model_to_dict(found.seller) == model_to_dict(seller.__class__.objects.get(pk=seller.pk))
    assert found.seller.enabled_methods == ["nano", "razorpay"]  # JSON came through its converter
    assert api_key_lookup("sk_test_nothing") is None


@pytest.mark.postgres
def test_prepared_statements_are_visible_to_query_capture():
    seller = SellerFactory()
    with CaptureQueriesContext(connection) as queries:
        statements.insert(Order(seller=seller, currency="INR", amount=100))
    assert len(queries) == 1 and queries[0]["sql"].startswith('INSERT INTO "orders_order"')


@pytest.mark.postgres
def test_select_joined_loads_each_side_and_none_for_a_missing_outer_join_side():
    with_key, without_key = SellerFactory(), SellerFactory()
    key_row, _ = api_key_create(seller=with_key, name="K")
    rows = statements.select_joined(
        ((Seller, "s"), (ApiKey, "k")),
        "FROM sellers_seller s LEFT JOIN sellers_apikey k ON k.seller_id = s.id WHERE s.id = ANY(%s) ORDER BY s.id",
        [[with_key.pk, without_key.pk]])
    assert [(seller.pk, key.pk if key else None) for seller, key in rows] == [
        (with_key.pk, key_row.pk), (without_key.pk, None)]
    assert model_to_dict(rows[0][0]) == model_to_dict(Seller.objects.get(pk=with_key.pk))


def test_prefetched_rows_are_served_without_a_query_and_later_filters_stay_scoped():
    seller, other = SellerFactory(), SellerFactory()
    mine = payout_destination_set(seller=seller, method="razorpay", value="acc_M1n30000000000")
    payout_destination_set(seller=other, method="razorpay", value="acc_0th3r000000000")
    statements.prefetched(seller, "payout_destinations", [mine])
    with CaptureQueriesContext(connection) as queries:
        assert [d.value for d in seller.payout_destinations.all()] == ["acc_M1n30000000000"]
    assert len(queries) == 0
    assert [d.value for d in seller.payout_destinations.filter(method="razorpay")] == ["acc_M1n30000000000"]


@pytest.mark.parametrize("scoped", [True, False])
def test_order_locked_for_payment_loads_what_the_orm_does_in_one_statement(scoped):
    seller = SellerFactory(enabled_methods=["nano", "razorpay"])
    payout_destination_set(seller=seller, method="nano", value=nano_address("locked"))
    payout_destination_set(seller=seller, method="razorpay", value="acc_L0ck3d00000000")
    order = OrderFactory(seller=seller)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        locked = order_locked_for_payment(order.pk, seller if scoped else None)
        destinations = sorted((d.method, d.value) for d in locked.seller.payout_destinations.all())
    assert model_to_dict(locked) == model_to_dict(Order.objects.get(pk=order.pk))
    assert model_to_dict(locked.seller) == model_to_dict(Seller.objects.get(pk=seller.pk))
    assert destinations == [("nano", nano_address("locked")), ("razorpay", "acc_L0ck3d00000000")]
    if connection.vendor == "postgresql":
        assert len(queries) == 1 and "FOR NO KEY UPDATE" in queries[0]["sql"]
    with pytest.raises(Order.DoesNotExist):
        order_locked_for_payment(order.pk, SellerFactory())


def test_a_seller_without_payout_destinations_gets_an_empty_list_not_a_query():
    order = OrderFactory()
    with transaction.atomic():
        locked = order_locked_for_payment(order.pk, order.seller)
    with CaptureQueriesContext(connection) as queries:
        assert list(locked.seller.payout_destinations.all()) == []
    assert len(queries) == 0


@pytest.mark.postgres
def test_hot_statements_are_prepared_once_per_connection_on_the_server():
    """Django turns psycopg's preparing off unless a threshold is configured, and psycopg then
    ignores prepare=True: this checks PostgreSQL really holds the plan (settings.DATABASES)."""
    seller = SellerFactory()
    for _ in range(2):
        api_key_lookup("sk_test_prepared")
        statements.insert(Order(seller=seller, currency="INR", amount=100))
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("FROM sellers_apikey k JOIN sellers_seller" in sql for sql in prepared)
    assert any(sql.startswith('INSERT INTO "orders_order"') for sql in prepared)

"""config.insert_batch: deferred inserts travel as one statement, in the order the code
issued them, and store exactly what Model.save() stores."""
import datetime
import decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config import insert_batch, statements
from config.atomic import all_or_nothing
from orders.models import Order, OrderEvent, OrderItem
from payments.models import Payment, PaymentEvent
from sellers.models import IdempotencyKey
from tests.factories import OrderFactory, SellerFactory, nano_address

pytestmark = pytest.mark.django_db


def _columns(obj) -> dict:
    return {field.attname: getattr(obj, field.attname) for field in obj._meta.concrete_fields}


def _key(seller, key="k1", **fields) -> IdempotencyKey:
    return IdempotencyKey(seller=seller, key=key, request_hash="h", method="POST", path="/x", **fields)


@pytest.mark.postgres
def test_deferred_rows_wait_and_go_with_the_next_insert_that_needs_an_answer_as_one_statement():
    seller = SellerFactory()
    order = Order(seller=seller, currency="INR", amount=100)
    item = OrderItem(order=order, name="Print", unit_amount=100, quantity=1)
    event = OrderEvent(order=order, type="order.created", data={"amount": 100})
    key = _key(seller, response_status=201, response_body={"id": str(order.pk)})
    with transaction.atomic(), insert_batch.batch():
        with CaptureQueriesContext(connection) as waiting:
            for row in (order, item, event):
                assert statements.insert(row, defer=True)
        assert waiting.captured_queries == [] and item.pk is None and event.pk is None
        with CaptureQueriesContext(connection) as sent:
            assert statements.insert(key, skip_conflicts=True)
    assert len(sent.captured_queries) == 1 and sent.captured_queries[0]["sql"].startswith("WITH r0 AS (INSERT")
    assert item.pk is not None and event.pk is not None and key.pk is not None
    assert list(order.items.values_list("pk", flat=True)) == [item.pk]
    assert list(order.events.values_list("pk", "data")) == [(event.pk, {"amount": 100})]
    assert IdempotencyKey.objects.get(pk=key.pk).response_body == {"id": str(order.pk)}


@pytest.mark.postgres
def test_an_orm_read_flushes_the_waiting_rows_first_and_sees_them():
    order = Order(seller=SellerFactory(), currency="INR", amount=100)
    with transaction.atomic(), insert_batch.batch():
        statements.insert(order, defer=True)
        assert Order.objects.filter(pk=order.pk).exists()
        assert statements.select(Order, "id = %s", [order.pk])[0].pk == order.pk  # and so does a prepared read


@pytest.mark.postgres
def test_the_end_of_the_batch_flushes_what_still_waits():
    order = Order(seller=SellerFactory(), currency="INR", amount=100)
    with transaction.atomic():
        with insert_batch.batch():
            statements.insert(order, defer=True)
        assert Order.objects.filter(pk=order.pk).exists()


@pytest.mark.postgres
def test_a_skipped_conflict_reports_false_and_the_rows_sent_with_it_still_go_in():
    seller = SellerFactory()
    order = OrderFactory(seller=seller)
    IdempotencyKey.objects.create(seller=seller, key="taken", request_hash="h", method="POST", path="/x")
    event = OrderEvent(order=order, type="order.note", data={})
    with transaction.atomic(), insert_batch.batch():
        statements.insert(event, defer=True)
        assert not statements.insert(_key(seller, "taken"), skip_conflicts=True)
    assert order.events.filter(pk=event.pk, type="order.note").exists()
    assert IdempotencyKey.objects.filter(seller=seller).count() == 1


@pytest.mark.postgres
def test_an_error_from_a_deferred_row_surfaces_when_it_is_sent_and_undoes_the_transaction():
    seller = SellerFactory()
    IdempotencyKey.objects.create(seller=seller, key="taken", request_hash="h", method="POST", path="/x")
    order = Order(seller=seller, currency="INR", amount=100)
    with pytest.raises(IntegrityError), transaction.atomic(), insert_batch.batch():
        statements.insert(order, defer=True)
        statements.insert(_key(seller, "taken"), defer=True)  # no skip_conflicts: a duplicate is an error
    assert not Order.objects.filter(pk=order.pk).exists()


@pytest.mark.postgres
def test_rolled_back_work_sends_nothing():
    order = Order(seller=SellerFactory(), currency="INR", amount=100)
    with CaptureQueriesContext(connection) as queries, all_or_nothing():
        statements.insert(order, defer=True)
        transaction.set_rollback(True)
    assert not Order.objects.filter(pk=order.pk).exists()
    assert not any("INSERT" in query["sql"] for query in queries.captured_queries)


@pytest.mark.postgres
def test_all_or_nothing_batches_its_inserts():
    order = Order(seller=SellerFactory(), currency="INR", amount=100)
    with all_or_nothing():
        statements.insert(order, defer=True)
        assert insert_batch.active(connection) is not None and insert_batch.active(connection).pending
    assert insert_batch.active(connection) is None
    assert Order.objects.filter(pk=order.pk).exists()


def test_off_postgresql_or_outside_a_batch_a_deferred_insert_is_written_at_once():
    order = Order(seller=SellerFactory(), currency="INR", amount=100)
    with transaction.atomic(), insert_batch.batch():
        statements.insert(order, defer=True)
        if connection.vendor != "postgresql":
            assert Order.objects.filter(pk=order.pk).exists() and not order._state.adding
    event = OrderEvent(order=order, type="order.note", data={})
    statements.insert(event, defer=True)  # no batch open
    assert event.pk is not None


def test_values_json_cannot_carry_are_refused_so_the_row_is_written_at_once():
    with pytest.raises(insert_batch._NotJsonReady):
        insert_batch._json_ready(datetime.timedelta(days=1))
    assert insert_batch._json_ready(decimal.Decimal("1E+2")) == "1E+2"


# Values as the ORM stores them: text without NUL or lone surrogates (PostgreSQL refuses
# those either way), JSON documents, decimals, microsecond datetimes.
_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=40)
_JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**53, 2**53) | _TEXT,
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
                     max_leaves=8)
_WHEN = st.datetimes(min_value=datetime.datetime(2000, 1, 1), max_value=datetime.datetime(2100, 1, 1),
                     timezones=st.just(datetime.UTC))


@pytest.mark.postgres
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reference=_TEXT, metadata=st.dictionaries(_TEXT, _JSON, max_size=4), data=_JSON, when=_WHEN,
       rate=st.decimals(min_value=0, max_value=10**17, places=12, allow_nan=False, allow_infinity=False),
       amount=st.integers(1, 2**63 - 1))
def test_a_batched_row_reads_back_as_the_orm_would_have_stored_it(reference, metadata, data, when, rate, amount):
    seller = SellerFactory()
    order = Order(seller=seller, currency="INR", amount=amount, reference=reference[:64], metadata=metadata,
                  paid_at=when)
    payment = Payment(order=order, seller=seller, method="nano", currency="INR", amount=amount, pay_currency="XNO",
                      amount_due=amount, pay_to=nano_address(reference), rate=rate, rate_source=reference[:40],
                      expires_at=when, checkout_params={"doc": data}, exceptions=[data])
    event = PaymentEvent(payment=payment, type="payment.started", data={"any": data})
    with transaction.atomic(), insert_batch.batch():
        for row in (order, payment, event):
            statements.insert(row, defer=True)
    for row in (order, payment, event):
        assert _columns(type(row).objects.get(pk=row.pk)) == _columns(row)

"""Transactions are Django's own: the API's one transaction (Idempotency-Key and work commit
together) is transaction.atomic(durable=True), and the services it runs open their blocks with
savepoint=False, so inside it they set no savepoint and a failure dooms all of it."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from orders.actors import Actor
from orders.models import Order
from orders.services import ItemSpec, order_create
from payments.providers.errors import ProviderUnavailable
from payments.providers.nano import NanoProvider
from payments.services import PaymentStateError, payment_start
from sellers.idempotency import _in_one_transaction
from sellers.services import payout_destination_set
from tests.factories import OrderFactory, SellerFactory, nano_address

pytestmark = pytest.mark.django_db(transaction=True)

ITEMS = [ItemSpec(name="Print", unit_amount=100)]


def _savepoints(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].upper().startswith("SAVEPOINT")]


def test_the_api_transaction_refuses_to_run_inside_another_one():
    seller = SellerFactory()

    def view(_view, _request):
        order_create(seller=seller, currency="INR", items=ITEMS, actor=Actor.system("test"))
        raise AssertionError("never reached")

    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        _in_one_transaction(view, None, None, (), {}, seller, "k", "f")
    assert not Order.objects.exists()


def test_service_blocks_inside_a_transaction_set_no_savepoint():
    seller = SellerFactory(enabled_methods=["nano"])
    payout_destination_set(seller=seller, method="nano", value=nano_address("atomic"))
    with CaptureQueriesContext(connection) as queries, transaction.atomic(durable=True):
        order = order_create(seller=seller, currency="INR", items=ITEMS, actor=Actor.system("test"))
        payment_start(order_id=order.pk, method="nano", actor=Actor.system("test"))
    assert _savepoints(queries) == []


def test_a_refused_start_leaves_the_callers_transaction_usable():
    order = OrderFactory(status=Order.Status.CANCELLED)
    with transaction.atomic(durable=True):
        with pytest.raises(PaymentStateError, match="cancelled"):
            payment_start(order_id=order.pk, method="nano", actor=Actor.system("test"))
        assert not transaction.get_rollback() and Order.objects.filter(pk=order.pk).exists()


def test_a_failure_after_a_service_wrote_dooms_the_whole_transaction(monkeypatch):
    seller = SellerFactory(enabled_methods=["nano"])
    payout_destination_set(seller=seller, method="nano", value=nano_address("doomed"))
    order = OrderFactory(seller=seller, status=Order.Status.EXPIRED)

    def unavailable(*_args, **_kwargs):
        raise ProviderUnavailable("rate source down")

    monkeypatch.setattr(NanoProvider, "quote", unavailable)
    with transaction.atomic(durable=True):
        Order.objects.filter(pk=order.pk).update(reference="changed")
        with pytest.raises(ProviderUnavailable):
            payment_start(order_id=order.pk, method="nano", actor=Actor.system("test"))  # after reopening it
        assert transaction.get_rollback()  # no savepoint to fall back to: the block must not go on
    order.refresh_from_db()
    assert order.reference != "changed" and order.status == Order.Status.EXPIRED


def test_a_service_on_its_own_commits_its_own_transaction():
    seller = SellerFactory()
    order = order_create(seller=seller, currency="INR", items=ITEMS, actor=Actor.system("test"))
    assert Order.objects.filter(pk=order.pk).exists() and not connection.in_atomic_block

"""config.atomic: services' blocks set savepoints as usual, except inside all_or_nothing()."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.atomic import all_or_nothing, atomic
from orders.models import Order
from tests.factories import SellerFactory

pytestmark = pytest.mark.django_db


def _savepoints(queries) -> set[str]:
    """The names of the savepoints set."""
    return {q["sql"].split()[-1] for q in queries if q["sql"].upper().startswith("SAVEPOINT")}


def test_a_nested_block_sets_a_savepoint_so_a_caught_failure_keeps_the_outer_work():
    seller = SellerFactory()  # (the test's own transaction makes the outer block a savepoint too)
    with CaptureQueriesContext(connection) as queries, atomic():
        Order.objects.create(seller=seller, currency="INR", amount=100)
        with pytest.raises(RuntimeError), atomic():
            Order.objects.create(seller=seller, currency="INR", amount=200)
            raise RuntimeError
        assert list(Order.objects.values_list("amount", flat=True)) == [100]
    assert len(_savepoints(queries)) == 2


def test_inside_all_or_nothing_nested_blocks_set_no_savepoint_and_a_failure_undoes_everything():
    seller = SellerFactory()
    with CaptureQueriesContext(connection) as queries, pytest.raises(RuntimeError), all_or_nothing():
        Order.objects.create(seller=seller, currency="INR", amount=100)
        with atomic():
            Order.objects.create(seller=seller, currency="INR", amount=200)
            raise RuntimeError
    # The test's own transaction wraps all_or_nothing in one savepoint; the service block adds none.
    assert len(_savepoints(queries)) == 1 and not Order.objects.exists()
    with CaptureQueriesContext(connection) as after, atomic(), atomic():
        pass
    assert _savepoints(after), "the flag must not outlive all_or_nothing()"

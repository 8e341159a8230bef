import itertools

import pytest

from orders.actors import Actor
from orders.models import Order, OrderEvent
from orders.services import order_transition
from orders.states import ORDER_TRANSITIONS, order_can_transition
from tests.factories import OrderFactory

STATUSES = [choice for choice, _ in Order.Status.choices]


def test_table_covers_every_status():
    assert set(ORDER_TRANSITIONS) == set(STATUSES)


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status"), list(itertools.product(STATUSES, STATUSES)))
def test_transition(from_status, to_status):
    order = OrderFactory(status=from_status)
    before = OrderEvent.objects.filter(order=order).count()
    result = order_transition(order_id=order.pk, to_status=to_status, actor=Actor.system("test"))
    order.refresh_from_db()
    after = OrderEvent.objects.filter(order=order).count()
    allowed = order_can_transition(from_status, to_status) and (from_status != to_status
                                                               or to_status == "partially_refunded")
    if allowed:
        assert result is not None and order.status == to_status and after == before + 1
    else:
        assert result is None and order.status == from_status and after == before

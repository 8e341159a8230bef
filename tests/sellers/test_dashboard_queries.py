"""Query counts per page do not grow with the number of rows (1 vs 50)."""
import pytest

from sellers import services
from tests import factories
from tests.sellers.dashboard_helpers import login, open_order, paid_order
from webhooks import services as webhook_services
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db

# Session + user + membership, then the page's own queries; a per-row query would blow far past these.
# settings: 7 + the Email card (the seller's email settings, the members who may receive)
BUDGET = {"/dashboard/": 12, "/dashboard/orders/": 8, "/dashboard/payments/": 8, "/dashboard/products/": 8,
          "/dashboard/developers/": 9, "/dashboard/settings/": 9}


def _populate(seller, n):
    endpoint = webhook_services.webhook_endpoint_create(seller=seller, url="https://example.com/hook", events=[])
    for i in range(n):
        paid_order(seller, amount=1000 + i)
        factories.ProductFactory(seller=seller)
        services.api_key_create(seller=seller, name=f"k{i}")
        WebhookDelivery.objects.create(endpoint=endpoint, seller=seller, message_id=f"m{i}",
                                       event_type="payment.completed", payload={"data": {}})


@pytest.mark.parametrize("n", [1, 50])
@pytest.mark.parametrize("url", list(BUDGET))
def test_list_pages_have_constant_queries(client, seller, seller_user, django_assert_max_num_queries, url, n):
    _populate(seller, n)
    login(client, seller_user)
    with django_assert_max_num_queries(BUDGET[url]):
        assert client.get(url).status_code == 200


@pytest.mark.parametrize("n", [1, 50])
def test_order_detail_has_constant_queries(client, seller, seller_user, django_assert_max_num_queries, n):
    order, payment = paid_order(seller)
    for _ in range(n):
        open_order(seller)  # unrelated rows
        factories.GatewayPaymentFactory(order=order, status="expired")
    from orders.models import OrderEvent
    from payments.models import PaymentEvent
    PaymentEvent.objects.bulk_create(PaymentEvent(payment=payment, type="payment.note") for _ in range(n))
    OrderEvent.objects.bulk_create(OrderEvent(order=order, type="order.note") for _ in range(n))
    login(client, seller_user)
    with django_assert_max_num_queries(12):
        response = client.get(f"/dashboard/orders/{order.pk}/")
    assert response.status_code == 200
    assert response.content.count(b'class="timeline-item"') == 2 * n

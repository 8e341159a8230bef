"""Tenant isolation: every dashboard URL that takes an object id answers 404 for
another seller's object, on GET and POST, and changes nothing."""
import pytest

from orders.models import Order, Product
from payments.models import Payment, Refund, RefundRequest
from sellers import services
from sellers.models import ApiKey
from tests import factories
from tests.sellers.dashboard_helpers import login, paid_order
from webhooks import services as webhook_services
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


def _dashboard_id_routes() -> set[str]:
    from sellers.urls import urlpatterns

    return {p.name for p in urlpatterns if "<" in str(p.pattern)}


@pytest.fixture
def foreign(other_seller):
    """One object of every kind, all belonging to another seller."""
    order, payment = paid_order(other_seller)
    endpoint = webhook_services.webhook_endpoint_create(seller=other_seller, url="https://other.example/hook",
                                                        events=[])
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, seller=other_seller, message_id="msg_x",
                                              event_type="payment.completed", payload={"data": {"id": str(payment.pk)}})
    key, _ = services.api_key_create(seller=other_seller, name="theirs")
    product = factories.ProductFactory(seller=other_seller)
    refund_request = RefundRequest.objects.create(payment=payment, seller=other_seller, reason="broken")
    refund = Refund.objects.create(payment=payment, seller=other_seller, amount=1, status="awaiting_seller",
                                   send_from=payment.pay_to, send_to=factories.nano_address("x"), amount_raw="1")
    return {"order": order, "payment": payment, "endpoint": endpoint, "delivery": delivery, "key": key,
            "product": product, "refund_request": refund_request, "refund": refund}


def _urls(f):
    o, p, e = f["order"].pk, f["payment"].pk, f["endpoint"].pk
    return {
        "order_detail": f"/dashboard/orders/{o}/",
        "order_delivery": f"/dashboard/orders/{o}/delivery/",
        "order_fulfil": f"/dashboard/orders/{o}/fulfil/",
        "order_resend_webhook": f"/dashboard/orders/{o}/resend-webhook/",
        "payment_detail": f"/dashboard/payments/{p}/",
        "payment_refund": f"/dashboard/payments/{p}/refund/",
        "payment_cancel": f"/dashboard/payments/{p}/cancel/",
        "product_edit": f"/dashboard/products/{f['product'].pk}/edit/",
        "product_archive": f"/dashboard/products/{f['product'].pk}/archive/",
        "api_key_revoke": f"/dashboard/developers/keys/{f['key'].pk}/revoke/",
        "endpoint_rotate": f"/dashboard/developers/endpoints/{e}/rotate/",
        "endpoint_test": f"/dashboard/developers/endpoints/{e}/test/",
        "endpoint_enable": f"/dashboard/developers/endpoints/{e}/enable/",
        "endpoint_delete": f"/dashboard/developers/endpoints/{e}/delete/",
        "delivery_resend": f"/dashboard/developers/deliveries/{f['delivery'].pk}/resend/",
        "refund_request_approve": f"/dashboard/refund-requests/{f['refund_request'].pk}/approve/",
        "refund_request_decide": f"/dashboard/refund-requests/{f['refund_request'].pk}/decide/",
        "refund_detail": f"/dashboard/refunds/{f['refund'].pk}/",
        "refund_verify": f"/dashboard/refunds/{f['refund'].pk}/verify/",
        "refund_cancel": f"/dashboard/refunds/{f['refund'].pk}/cancel/",
    }


def test_every_url_with_an_id_is_covered(foreign):
    assert set(_urls(foreign)) == _dashboard_id_routes()


def test_another_sellers_ids_are_404_and_nothing_changes(client, seller_user, foreign):
    login(client, seller_user)
    secret_before = foreign["endpoint"].secret
    for name, url in _urls(foreign).items():
        method = client.get if name in ("order_detail", "payment_detail", "product_edit", "refund_detail",
                                          "refund_request_approve") \
            else client.post
        response = method(url, {f"refund-{foreign['payment'].pk}-amount": "1.00", "delivery_info": "x",
                                "decision": "approve", "block_hash": "AB" * 32,
                                "name": "hijack", "price": "1", "currency": "INR"})
        assert response.status_code == 404, (name, response.status_code)
    edit = client.post(_urls(foreign)["product_edit"], {"name": "hijack", "price": "1", "currency": "INR"})
    assert edit.status_code == 404
    foreign["payment"].refresh_from_db()
    assert foreign["payment"].status == "completed" and foreign["payment"].refunded_amount == 0
    assert Order.objects.get(pk=foreign["order"].pk).status == "paid"
    assert WebhookEndpoint.objects.get(pk=foreign["endpoint"].pk).secret == secret_before
    assert ApiKey.objects.get(pk=foreign["key"].pk).revoked_at is None
    assert Product.objects.get(pk=foreign["product"].pk).name != "hijack"
    assert WebhookDelivery.objects.filter(endpoint=foreign["endpoint"]).count() == 1
    assert Payment.objects.get(pk=foreign["payment"].pk).refunds.count() == 1  # only the fixture's own
    assert Refund.objects.get(pk=foreign["refund"].pk).status == "awaiting_seller"
    assert RefundRequest.objects.get(pk=foreign["refund_request"].pk).status == "requested"


def test_lists_and_search_never_show_another_sellers_rows(client, seller_user, foreign):
    login(client, seller_user)
    order = foreign["order"]
    for url in ["/dashboard/orders/", f"/dashboard/orders/?q={order.pk}", f"/dashboard/orders/?q={order.reference}",
                "/dashboard/payments/", f"/dashboard/payments/?q={foreign['payment'].tx_id}", "/dashboard/",
                "/dashboard/developers/", "/dashboard/products/"]:
        body = client.get(url).content.decode()
        assert f"/dashboard/orders/{order.pk}/" not in body and foreign["endpoint"].url not in body, url
        assert foreign["product"].name not in body, url
        if "?q=" in url:
            assert "match these filters" in body, url
    csv_body = b"".join(client.get("/dashboard/orders/?export=csv").streaming_content).decode()
    assert str(order.pk) not in csv_body


def test_search_finds_own_order_by_each_key(client, seller, seller_user):
    """The positive control for the test above: the same searches do find the seller's own order."""
    order, payment = paid_order(seller, reference="MINE-42", email="buyer@example.com")
    paid_order(seller, reference="OTHER-1", email="else@example.com")
    login(client, seller_user)
    for q in [str(order.pk), "MINE-42", "buyer@example.com", payment.tx_id]:
        body = client.get("/dashboard/orders/", {"q": q}).content.decode()
        assert f"/dashboard/orders/{order.pk}/" in body, q
        assert "OTHER-1" not in body, q

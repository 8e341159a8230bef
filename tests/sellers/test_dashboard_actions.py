"""Order actions from the dashboard: refund (full/partial, never more than left), cancel,
fulfil, delivery info, resend webhook; each shown only when allowed; viewers cannot act."""
import re

import pytest

from orders.models import Order, OrderEvent
from payments.models import Payment, Refund
from payments.providers.base import RefundResult
from sellers.models import SellerMembership
from tests import factories
from tests.sellers.dashboard_helpers import login, open_order, paid_order
from tests.services_patch import use_provider
from webhooks import services as webhook_services
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db


class FakeRefunds:
    status = "succeeded"

    def refund(self, payment, amount_minor, *, idempotency_key, **kwargs):
        # A gateway gives each refund its own id (the key is Kassa's refund id).
        return RefundResult(provider_refund_id=f"rfnd_{amount_minor}_{idempotency_key}", status=self.status)


@pytest.fixture(autouse=True)
def fake_provider(monkeypatch):
    fake = FakeRefunds()
    use_provider(monkeypatch, lambda method: fake)
    return fake


def _refund(client, payment, amount, *, confirm=True, full=False):
    data = {f"refund-{payment.pk}-amount": amount, **({"confirm": "yes"} if confirm else {}),
            **({f"refund-{payment.pk}-full": "1"} if full else {})}
    return client.post(f"/dashboard/payments/{payment.pk}/refund/", data, follow=True)


def test_a_refund_is_confirmed_with_its_amount_before_money_moves(client, seller, seller_user):
    order, payment = paid_order(seller, amount=49900)
    login(client, seller_user)
    asked = _refund(client, payment, "399", confirm=False)
    body = asked.content.decode()
    assert asked.status_code == 200 and "Refund ₹399.00 of ₹499.00 to the shopper?" in body
    assert 'name="confirm" value="yes"' in body and not Refund.objects.exists()
    assert "Refunded ₹399.00." in _refund(client, payment, "399").content.decode()
    assert Refund.objects.get().amount == 39900


def test_an_empty_amount_is_not_a_full_refund(client, seller, seller_user):
    order, payment = paid_order(seller, amount=49900)
    login(client, seller_user)
    page = client.get(f"/dashboard/orders/{order.pk}/").content.decode()
    assert "Refund the full ₹499.00" in page
    body = _refund(client, payment, "", confirm=False).content.decode()
    assert "Enter an amount, or choose" in body and not Refund.objects.exists()
    asked = _refund(client, payment, "", confirm=False, full=True).content.decode()
    assert "Refund the full ₹499.00 to the shopper?" in asked and not Refund.objects.exists()
    _refund(client, payment, "", full=True)
    payment.refresh_from_db()
    assert payment.status == "refunded" and payment.refunded_amount == 49900


def test_partial_then_full_refund_never_more_than_left(client, seller, seller_user):
    order, payment = paid_order(seller, amount=10000)
    login(client, seller_user)
    page = client.get(f"/dashboard/orders/{order.pk}/").content.decode()
    assert "up to ₹100.00" in page and "Refund the full ₹100.00" in page

    body = _refund(client, payment, "30.00").content.decode()
    assert "Refunded ₹30.00." in body
    payment.refresh_from_db()
    assert payment.status == "partially_refunded" and payment.refunded_amount == 3000
    assert "up to ₹70.00" in body

    body = _refund(client, payment, "70.01").content.decode()
    assert "At most ₹70.00 is left to refund." in body
    payment.refresh_from_db()
    assert payment.refunded_amount == 3000

    body = _refund(client, payment, "", full=True).content.decode()  # "Refund the full …": everything left
    payment.refresh_from_db()
    assert payment.status == "refunded" and payment.refunded_amount == 10000
    assert Order.objects.get(pk=order.pk).status == "refunded"
    assert f'action="/dashboard/payments/{payment.pk}/refund/"' not in body  # no more refund form


def test_refund_rejects_garbage_and_non_completed(client, seller, seller_user):
    _, payment = paid_order(seller, amount=10000)
    _, pending = open_order(seller)
    login(client, seller_user)
    assert "not an amount" in _refund(client, payment, "ten").content.decode()
    assert "more than zero" in _refund(client, payment, "0").content.decode()
    assert "Refund not made" in _refund(client, pending, "1").content.decode()
    assert Refund.objects.count() == 0


def test_a_double_submitted_confirmation_refunds_once(client, seller, seller_user):
    """Two clicks on "Yes, refund ₹30.00" were two refunds of ₹30.00 while more than ₹60.00 was left."""
    _, payment = paid_order(seller, amount=10000)
    asked = _refund(login(client, seller_user), payment, "30.00", confirm=False).content.decode()
    form = asked[asked.index(f'action="/dashboard/payments/{payment.pk}/refund/"'):]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form[:form.index("</form>")]))
    confirm = {**fields, "confirm": "yes"}
    assert "Refunded ₹30.00." in client.post(f"/dashboard/payments/{payment.pk}/refund/", confirm,
                                             follow=True).content.decode()
    again = client.post(f"/dashboard/payments/{payment.pk}/refund/", confirm, follow=True).content.decode()
    assert Refund.objects.count() == 1, again
    assert "Refund not made: This payment changed since you confirmed" in again
    assert list(Refund.objects.values_list("amount", flat=True)) == [3000]
    assert Payment.objects.get(pk=payment.pk).refunded_amount == 3000


def test_failed_refund_is_reported(client, seller, seller_user, fake_provider):
    _, payment = paid_order(seller, amount=10000)
    fake_provider.status = "failed"
    body = _refund(login(client, seller_user), payment, "10").content.decode()
    assert "failed" in body
    payment.refresh_from_db()
    assert payment.refunded_amount == 0


def test_cancel_pending_payment_only(client, seller, seller_user):
    order, pending = open_order(seller)
    login(client, seller_user)
    page = client.get(f"/dashboard/orders/{order.pk}/").content.decode()
    assert f"/dashboard/payments/{pending.pk}/cancel/" in page
    cancel_url = f"/dashboard/payments/{pending.pk}/cancel/"
    assert "Payment cancelled." in client.post(cancel_url, follow=True).content.decode()
    assert Payment.objects.get(pk=pending.pk).status == "cancelled"
    body = client.post(f"/dashboard/payments/{pending.pk}/cancel/", follow=True).content.decode()
    assert "cannot be cancelled" in body
    assert cancel_url not in client.get(f"/dashboard/orders/{order.pk}/").content.decode()


def test_mark_fulfilled_and_delivery_info(client, seller, seller_user):
    order, _ = paid_order(seller)
    login(client, seller_user)
    assert f"/dashboard/orders/{order.pk}/fulfil/" in client.get(f"/dashboard/orders/{order.pk}/").content.decode()
    client.post(f"/dashboard/orders/{order.pk}/delivery/", {"delivery_info": "DHL 123 <b>"})
    body = client.post(f"/dashboard/orders/{order.pk}/fulfil/", follow=True).content.decode()
    order.refresh_from_db()
    assert order.status == "fulfilled" and order.delivery_info == "DHL 123 <b>"
    assert "DHL 123 &lt;b&gt;" in body
    assert f"/dashboard/orders/{order.pk}/fulfil/" not in body
    assert set(OrderEvent.objects.filter(order=order).values_list("type", flat=True)) >= {
        "order.delivery_updated", "order.fulfilled"}
    open_o, _ = open_order(seller)
    body = client.post(f"/dashboard/orders/{open_o.pk}/fulfil/", follow=True).content.decode()
    assert "Only a paid order can be fulfilled" in body


def test_a_partially_refunded_order_can_still_be_fulfilled(client, seller, seller_user):
    """Delivery and money are separate facts: the status keeps saying what was refunded, fulfilled_at
    and the order.fulfilled event record the delivery, once."""
    order, payment = paid_order(seller, amount=10000)
    login(client, seller_user)
    _refund(client, payment, "30.00")
    assert Order.objects.get(pk=order.pk).status == "partially_refunded"
    fulfil_url = f"/dashboard/orders/{order.pk}/fulfil/"
    assert fulfil_url in client.get(f"/dashboard/orders/{order.pk}/").content.decode()
    body = client.post(fulfil_url, follow=True).content.decode()
    order.refresh_from_db()
    assert "Order marked as fulfilled." in body and fulfil_url not in body
    assert order.status == "partially_refunded" and order.fulfilled_at is not None
    assert "already fulfilled" in client.post(fulfil_url, follow=True).content.decode()
    assert OrderEvent.objects.filter(order=order, type="order.fulfilled").count() == 1


def test_timeline_merges_order_and_payment_events(client, seller, seller_user):
    order, payment = paid_order(seller)
    OrderEvent.objects.create(order=order, type="order.created")
    from payments.models import PaymentEvent
    PaymentEvent.objects.create(payment=payment, type="payment.completed", from_status="pending", to_status="completed")
    body = login(client, seller_user).get(f"/dashboard/orders/{order.pk}/").content.decode()
    assert body.index("Order: created") < body.index("Razorpay payment: completed")


def test_resend_webhook_uses_latest_delivery(client, seller, seller_user, monkeypatch):
    order, payment = paid_order(seller)
    endpoint = webhook_services.webhook_endpoint_create(seller=seller, url="https://hooks.example/x", events=[])
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, seller=seller, message_id="msg_1",
                                              event_type="payment.completed", status="dead",
                                              payload={"type": "payment.completed", "data": {"id": str(payment.pk)}})
    sent = []

    def fake_resend(*, delivery):
        sent.append(delivery.pk)
        delivery.status, delivery.last_status_code = "succeeded", 200
        return delivery

    monkeypatch.setattr("sellers.views.orders.delivery_resend", fake_resend)
    login(client, seller_user)
    assert "Resend webhook" in client.get(f"/dashboard/orders/{order.pk}/").content.decode()
    body = client.post(f"/dashboard/orders/{order.pk}/resend-webhook/", follow=True).content.decode()
    assert sent == [delivery.pk] and "delivered (HTTP 200)" in body
    other, _ = paid_order(seller)
    assert "Resend webhook" not in client.get(f"/dashboard/orders/{other.pk}/").content.decode()


def test_viewer_cannot_act(client, seller):
    viewer = factories.MembershipFactory(seller=seller, role=SellerMembership.Role.VIEWER).user
    order, payment = paid_order(seller)
    login(client, viewer)
    assert client.get(f"/dashboard/orders/{order.pk}/").status_code == 200
    assert client.post(f"/dashboard/payments/{payment.pk}/refund/", {}).status_code == 403
    assert client.post(f"/dashboard/orders/{order.pk}/fulfil/").status_code == 403
    assert client.post("/dashboard/settings/", {"name": "x"}).status_code == 403
    assert Order.objects.get(pk=order.pk).status == "paid"


def test_posts_need_csrf(seller, seller_user):
    from django.test import Client

    order, payment = paid_order(seller)
    client = login(Client(enforce_csrf_checks=True), seller_user)
    assert client.post(f"/dashboard/payments/{payment.pk}/refund/", {}).status_code == 403
    assert client.post(f"/dashboard/orders/{order.pk}/fulfil/").status_code == 403

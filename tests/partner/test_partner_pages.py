"""/me/payments/, /me/orders/<id>/ and shopper refund requests (issue 8)."""
from datetime import timedelta

import pytest
from django.utils import timezone

from orders.actors import Actor
from orders.services import order_event_write
from payments.models import PaymentEvent, RefundRequest
from payments.providers.errors import PaymentError
from payments.services import refund_request_create
from tests import factories
from tests.partner.conftest import add_token, completed_payment, sign_in, verify_ok

pytestmark = pytest.mark.django_db

ME = "user@example.com"
OTHER = "other@example.com"


@pytest.fixture
def me(client, partner_api):
    add_token(partner_api, "tok-me", json=verify_ok(ME))
    sign_in(client, "tok-me")
    return client


def test_my_payments_needs_a_verified_session(client, partner_on):
    response = client.get("/me/payments/")
    assert response.status_code == 403
    assert "Open this page from the app" in response.content.decode()


def test_my_payments_lists_only_my_payments_across_sellers_with_status(me):
    lotus = factories.SellerFactory(name="Lotus Prints")
    tea = factories.SellerFactory(name="Darjeeling Tea Co")
    completed_payment(partner_user_id=ME, seller=lotus, reference="LOT-1")
    factories.PaymentFactory(order=factories.OrderFactory(seller=tea, partner_user_id=ME, reference="TEA-7"),
                             status="expired")
    completed_payment(partner_user_id=OTHER, seller=lotus, reference="NOT-MINE")
    factories.PaymentFactory(order=factories.OrderFactory(seller=tea, partner_user_id="", reference="GUEST-1"))
    body = me.get("/me/payments/").content.decode()
    assert "Lotus Prints" in body and "Darjeeling Tea Co" in body
    assert "LOT-1" in body and "TEA-7" in body
    assert "NOT-MINE" not in body and "GUEST-1" not in body
    assert "Completed" in body and "Expired" in body
    assert "₹499.00" in body


def test_my_payments_is_paginated_with_constant_queries(me, django_assert_max_num_queries):
    seller = factories.SellerFactory()
    for n in range(25):
        order = factories.OrderFactory(seller=seller, partner_user_id=ME, reference=f"R-{n:02d}")
        factories.PaymentFactory(order=order, created_at=timezone.now() - timedelta(minutes=n))
    with django_assert_max_num_queries(6):
        first = me.get("/me/payments/")
    with django_assert_max_num_queries(6):
        second = me.get("/me/payments/?page=2")
    assert first.context["page_obj"].paginator.count == 25
    assert len(first.context["payments"]) == 20 and len(second.context["payments"]) == 5
    assert "R-00" in first.content.decode() and "R-24" in second.content.decode()


def test_order_activity_shows_items_delivery_and_merged_history(me):
    payment = completed_payment(partner_user_id=ME, delivery_info="Courier: BlueDart AWB 123456")
    order = payment.order
    t0 = timezone.now() - timedelta(hours=2)
    order_event_write(order=order, type="order.created", actor=Actor.shopper())
    order.events.update(created_at=t0)
    PaymentEvent.objects.create(payment=payment, type="payment.started", to_status="pending",
                                created_at=t0 + timedelta(minutes=1), data={"secret_provider_payload": "zzz"})
    PaymentEvent.objects.create(payment=payment, type="payment.completed", from_status="pending",
                                to_status="completed", created_at=t0 + timedelta(minutes=5))
    order_event_write(order=order, type="order.paid", actor=Actor.system(), from_status="open", to_status="paid")
    order.events.filter(type="order.paid").update(created_at=t0 + timedelta(minutes=6))
    response = me.get(f"/me/orders/{order.pk}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Art print" in body and "BlueDart AWB 123456" in body
    labels = [event["label"] for event in response.context["events"]]
    assert labels == ["Order placed", "Payment started", "Payment completed", "Order paid"]
    assert "secret_provider_payload" not in body  # shoppers never see raw event data


def test_another_users_order_is_404(me):
    theirs = completed_payment(partner_user_id=OTHER)
    guest = completed_payment(partner_user_id="")
    assert me.get(f"/me/orders/{theirs.order_id}/").status_code == 404
    assert me.get(f"/me/orders/{guest.order_id}/").status_code == 404
    assert me.post(f"/me/payments/{theirs.pk}/refund-request/", {"reason": "x"}).status_code == 404
    assert not RefundRequest.objects.exists()


def test_refund_request_on_a_completed_payment(me):
    payment = completed_payment(partner_user_id=ME)
    response = me.post(f"/me/payments/{payment.pk}/refund-request/", {"reason": "Arrived damaged"})
    assert response.status_code == 302 and response["Location"] == f"/me/orders/{payment.order_id}/"
    request = RefundRequest.objects.get()
    assert (request.payment, request.seller, request.partner_user_id, request.status, request.reason) == (
        payment, payment.seller, ME, "requested", "Arrived damaged")
    assert payment.events.filter(type="refund_request.created").exists()
    page = me.get(f"/me/orders/{payment.order_id}/").content.decode()
    assert "You asked for a refund" in page
    assert "Refund requested" in me.get("/me/payments/").content.decode()


@pytest.mark.parametrize("status", ["pending", "confirming", "expired", "failed", "refunded"])
def test_refund_request_on_a_payment_that_is_not_completed_is_refused(me, status):
    payment = factories.PaymentFactory(order=factories.OrderFactory(partner_user_id=ME), status=status)
    response = me.post(f"/me/payments/{payment.pk}/refund-request/", {"reason": "changed my mind"}, follow=True)
    assert not RefundRequest.objects.exists()
    assert response.redirect_chain[-1][0] == f"/me/orders/{payment.order_id}/"
    assert "You can ask for a refund only on a completed payment" in response.content.decode()
    assert "Ask for a refund" not in response.content.decode()


def test_only_one_open_refund_request_per_payment(me):
    payment = completed_payment(partner_user_id=ME)
    me.post(f"/me/payments/{payment.pk}/refund-request/", {"reason": "one"})
    response = me.post(f"/me/payments/{payment.pk}/refund-request/", {"reason": "two"}, follow=True)
    assert RefundRequest.objects.count() == 1
    assert "already asked for a refund" in response.content.decode()


def test_refund_request_service_checks_ownership():
    payment = completed_payment(partner_user_id=ME)
    with pytest.raises(PaymentError):
        refund_request_create(payment=payment, partner_user_id=OTHER, reason="")
    with pytest.raises(PaymentError):
        refund_request_create(payment=payment, partner_user_id="", reason="")
    assert not RefundRequest.objects.exists()


def test_refund_request_form_needs_csrf(partner_api):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    add_token(partner_api, "tok-me", json=verify_ok(ME))
    sign_in(client, "tok-me")
    payment = completed_payment(partner_user_id=ME)
    assert client.post(f"/me/payments/{payment.pk}/refund-request/", {"reason": "x"}).status_code == 403
    assert not RefundRequest.objects.exists()

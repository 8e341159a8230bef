"""Payments API: start, list, detail, verify and refunds; 4xx cases and tenant isolation."""
from datetime import timedelta

import pytest
from django.utils import timezone

from payments.models import Payment, Refund
from payments.providers.nano import ScanResult
from tests.api import fakes
from tests.api.test_orders_api import assert_error
from tests.factories import OrderFactory, PaymentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(seller):
    return OrderFactory(seller=seller, amount=99800)


def start(api, order, method="nano"):
    return api.post(f"/api/v1/orders/{order.pk}/payments/", {"method": method}, format="json")


def completed_payment(seller, amount=99800, **kwargs):
    order = OrderFactory(seller=seller, amount=amount, status="paid")
    return PaymentFactory(order=order, status="completed", completed_at=timezone.now(), **kwargs)


# --- start ------------------------------------------------------------------------------

def test_start_returns_the_payment(api, order):
    response = start(api, order)
    assert response.status_code == 201, response.content
    body = response.json()
    payment = Payment.objects.get(pk=body["id"])
    assert body["order"] == str(order.pk) and body["method"] == "nano" and body["status"] == "pending"
    assert body["currency"] == "INR" and body["amount"] == 99800 and body["pay_currency"] == "XNO"
    # amount_due is a string in raw (10^24 raw per µXNO): it does not fit 64 bits
    assert body["amount_due"] == str(payment.amount_due * 10**24)
    assert body["pay_to"].startswith("nano_") and body["expires_at"] and body["completed_at"] is None
    assert body["refunded_amount"] == 0 and body["exceptions"] == []


def test_starting_twice_reuses_the_active_payment(api, order):
    assert start(api, order).json()["id"] == start(api, order).json()["id"]
    assert Payment.objects.count() == 1


@pytest.mark.parametrize("body", [{"method": "paypal"}, {}, {"method": 1}, {"method": None}])
def test_unknown_method_is_400(api, order, body):
    error = assert_error(api.post(f"/api/v1/orders/{order.pk}/payments/", body, format="json"), 400)
    assert "method" in error["fields"]


def test_method_the_seller_has_not_configured_is_400(api, seller, order):
    seller.enabled_methods = ["razorpay"]
    seller.save(update_fields=["enabled_methods"])
    assert_error(start(api, order, "nano"), 400, "provider_not_configured")
    assert start(api, order, "razorpay").status_code == 201


def test_paying_a_paid_order_is_409(api, seller):
    assert_error(start(api, OrderFactory(seller=seller, status="paid")), 409, "invalid_state")


# --- list and detail ----------------------------------------------------------------------

def test_list_filters_and_customer_history(api, seller, other_seller):
    now = timezone.now()
    mine = PaymentFactory(order=OrderFactory(seller=seller, customer_email="ann@x.io"), created_at=now)
    done = completed_payment(seller, method="razorpay", pay_currency="INR", amount_due=99800, pay_to="",
                             amount_reserved=False, created_at=now - timedelta(days=3))
    PaymentFactory(order=OrderFactory(seller=other_seller, customer_email="ann@x.io"))
    ids = lambda params: [r["id"] for r in api.get("/api/v1/payments/", params).json()["results"]]  # noqa: E731
    assert ids({}) == [str(mine.pk), str(done.pk)]
    assert ids({"customer_email": "ann@x.io"}) == [str(mine.pk)]
    assert ids({"status": "completed"}) == [str(done.pk)]
    assert ids({"method": "razorpay"}) == [str(done.pk)]
    assert ids({"created_before": (now - timedelta(days=1)).isoformat()}) == [str(done.pk)]
    assert ids({"created_after": (now - timedelta(days=1)).isoformat()}) == [str(mine.pk)]
    body = api.get("/api/v1/payments/", {"limit": 1}).json()
    assert body["count"] == 2 and body["next"] and len(body["results"]) == 1


def test_list_query_count_is_constant(api, seller, django_assert_max_num_queries):
    for _ in range(10):
        PaymentFactory(order=OrderFactory(seller=seller))
    with django_assert_max_num_queries(5):
        assert len(api.get("/api/v1/payments/").json()["results"]) == 10


def test_detail_and_isolation(api, seller, other_seller):
    mine = PaymentFactory(order=OrderFactory(seller=seller))
    theirs = PaymentFactory(order=OrderFactory(seller=other_seller))
    assert api.get(f"/api/v1/payments/{mine.pk}/").json()["id"] == str(mine.pk)
    for suffix, call in [("", "get"), ("verify/", "post"), ("refunds/", "post")]:
        response = getattr(api, call)(f"/api/v1/payments/{theirs.pk}/{suffix}", {}, format="json")
        assert_error(response, 404, "not_found")
    assert_error(api.get("/api/v1/payments/nope/"), 404)


# --- verify -------------------------------------------------------------------------------

def test_verify_with_a_good_reference_completes_the_payment(api, order):
    payment_id = start(api, order).json()["id"]
    body = api.post(f"/api/v1/payments/{payment_id}/verify/", {"reference": "good-ABC"}, format="json").json()
    assert body["status"] == "completed" and body["tx_id"] == "good-ABC"
    order.refresh_from_db()
    assert order.status == "paid"
    again = api.post(f"/api/v1/payments/{payment_id}/verify/", {"reference": "good-ABC"}, format="json")
    assert again.status_code == 200 and again.json()["status"] == "completed"  # same fact, applied once


def test_verify_with_a_bad_reference_is_400_and_changes_nothing(api, order):
    payment_id = start(api, order).json()["id"]
    assert_error(api.post(f"/api/v1/payments/{payment_id}/verify/", {"reference": "forged"}, format="json"),
                 400, "verification_failed")
    assert Payment.objects.get(pk=payment_id).status == "pending"


def test_verify_without_a_reference_reads_the_nano_address_the_monitor_way(api, order, monkeypatch):
    """No block hash: the monitor's tick for the address (its stored cursor), never a one-off history walk."""
    payment = Payment.objects.get(pk=start(api, order).json()["id"])
    scanned = []

    class Node(fakes.FakeNano):
        def scan(self, accounts):
            scanned.append([account.address for account in accounts])
            return ScanResult()

        def poll(self, payments):
            raise AssertionError("a one-off poll walks the address's whole history")

    monkeypatch.setattr("payments.monitor_nano.get_provider", lambda code: Node())
    response = api.post(f"/api/v1/payments/{payment.pk}/verify/", {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "pending" and scanned == [[payment.pay_to]]


def test_verify_wrong_type_is_400(api, order):
    payment_id = start(api, order).json()["id"]
    assert_error(api.post(f"/api/v1/payments/{payment_id}/verify/", {"reference": ["x"]}, format="json"), 400)


# --- refunds -------------------------------------------------------------------------------

def test_partial_then_full_refund(api, seller):
    payment = completed_payment(seller, method="razorpay")  # a gateway answers
    url = f"/api/v1/payments/{payment.pk}/refunds/"
    first = api.post(url, {"amount": 30000, "reason": "one broken"}, format="json")
    assert first.status_code == 201, first.content
    assert first.json()["amount"] == 30000 and first.json()["status"] == "succeeded"
    rest = api.post(url, {}, format="json").json()
    assert rest["amount"] == 69800
    payment.refresh_from_db()
    assert payment.status == "refunded" and payment.refunded_amount == 99800
    assert_error(api.post(url, {}, format="json"), 409, "invalid_state")


def test_refunding_a_pending_payment_is_409(api, seller):
    payment = PaymentFactory(order=OrderFactory(seller=seller))
    assert_error(api.post(f"/api/v1/payments/{payment.pk}/refunds/", {}, format="json"), 409, "invalid_state")
    assert not Refund.objects.exists()


def test_refunding_more_than_paid_is_409(api, seller):
    payment = completed_payment(seller, method="razorpay")  # a gateway answers
    assert_error(api.post(f"/api/v1/payments/{payment.pk}/refunds/", {"amount": 99801}, format="json"), 409)


@pytest.mark.parametrize("amount", [0, -1, "100", 1.5, None])
def test_bad_refund_amounts_are_400(api, seller, amount):
    payment = completed_payment(seller)
    error = assert_error(api.post(f"/api/v1/payments/{payment.pk}/refunds/", {"amount": amount}, format="json"), 400)
    assert "amount" in error["fields"]


def test_a_failed_provider_refund_is_reported(api, seller, fake_providers, monkeypatch):
    monkeypatch.setattr(fake_providers.FakeProvider, "refund_status", "failed")
    payment = completed_payment(seller, method="razorpay")  # a gateway answers
    body = api.post(f"/api/v1/payments/{payment.pk}/refunds/", {"amount": 100}, format="json").json()
    assert body["status"] == "failed" and body["failure_reason"] == "card expired"
    payment.refresh_from_db()
    assert payment.status == "completed" and payment.refunded_amount == 0

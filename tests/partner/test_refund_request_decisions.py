"""The seller decides shopper refund requests in /dashboard/refund-requests/ (issue 8)."""
import pytest

from orders.actors import Actor
from payments.models import Refund, RefundRequest
from payments.providers.errors import PaymentError
from payments.services import refund_nano_send_record, refund_request_create, refund_request_decide
from tests import factories
from tests.partner.conftest import completed_payment
from tests.sellers.dashboard_helpers import login

pytestmark = pytest.mark.django_db

ME = "user@example.com"
APPROVE = {"decision": "approve", "confirm": "yes"}  # the answer to the page that states the amount


@pytest.fixture
def open_request(seller, fake_nano):
    payment = completed_payment(partner_user_id=ME, seller=seller, reference="LOT-9")
    return refund_request_create(payment=payment, partner_user_id=ME, reason="Arrived damaged")


@pytest.fixture
def dashboard(client, seller_user):
    login(client, seller_user)
    return client


def test_list_shows_open_requests_of_this_seller_only(dashboard, open_request, other_seller, fake_nano):
    theirs = completed_payment(partner_user_id=ME, seller=other_seller, reference="THEIRS-1")
    refund_request_create(payment=theirs, partner_user_id=ME, reason="not yours")
    body = dashboard.get("/dashboard/refund-requests/").content.decode()
    assert "LOT-9" in body and "Arrived damaged" in body and ME in body
    assert "THEIRS-1" not in body and "not yours" not in body


def test_approve_runs_payment_refund(dashboard, open_request, seller_user):
    payment = open_request.payment
    response = dashboard.post(f"/dashboard/refund-requests/{open_request.pk}/decide/", APPROVE)
    assert response.status_code == 302
    open_request.refresh_from_db()
    payment.refresh_from_db()
    refund = Refund.objects.get(payment=payment)
    assert (refund.amount, refund.status) == (49900, "awaiting_seller")  # Nano: the seller sends it
    refund_nano_send_record(refund=refund, block_hash="AB" * 32, actor=Actor.provider("nano"))  # the node shows it
    payment.refresh_from_db()
    assert (open_request.status, open_request.refund, open_request.decided_by) == ("approved", refund, seller_user)
    assert payment.status == "refunded" and payment.refunded_amount == 49900
    assert payment.order.status == "refunded"
    assert payment.events.filter(type="refund_request.approved").exists()
    assert payment.events.filter(type="refund.succeeded").exists()   # the normal refund path ran
    assert payment.ledger_entries.filter(kind="refund", gross=-49900).exists()


def test_approve_asks_first_and_allows_a_partial_refund(dashboard, open_request):
    # A part of a Nano payment converts at the rate locked at start (µXNO per minor unit).
    type(open_request.payment).objects.filter(pk=open_request.payment_id).update(rate="10")
    url = f"/dashboard/refund-requests/{open_request.pk}/decide/"
    assert f'href="/dashboard/refund-requests/{open_request.pk}/approve/"' in dashboard.get(
        "/dashboard/refund-requests/").content.decode()
    page = dashboard.get(f"/dashboard/refund-requests/{open_request.pk}/approve/")
    assert page.status_code == 200 and "Refund ₹499.00 of ₹499.00 to the shopper?" in page.content.decode()
    unconfirmed = dashboard.post(url, {"decision": "approve", "amount": "100"})
    assert unconfirmed.status_code == 200
    assert "Refund ₹100.00 of ₹499.00 to the shopper?" in unconfirmed.content.decode()
    assert not Refund.objects.exists()
    too_much = dashboard.post(url, {"decision": "approve", "amount": "500", "confirm": "yes"})
    assert too_much.status_code == 400 and not Refund.objects.exists()
    dashboard.post(url, {"decision": "approve", "amount": "100", "confirm": "yes"})
    open_request.refresh_from_db()
    assert open_request.status == "approved" and open_request.refund.amount == 10000


def test_decline_changes_no_money(dashboard, open_request):
    dashboard.post(f"/dashboard/refund-requests/{open_request.pk}/decide/", {"decision": "decline"})
    open_request.refresh_from_db()
    assert open_request.status == "declined"
    assert not Refund.objects.exists()
    assert open_request.payment.events.filter(type="refund_request.declined").exists()


def test_a_request_is_decided_once(dashboard, open_request):
    dashboard.post(f"/dashboard/refund-requests/{open_request.pk}/decide/", APPROVE)
    response = dashboard.post(f"/dashboard/refund-requests/{open_request.pk}/decide/", APPROVE,
                              follow=True)
    assert Refund.objects.count() == 1
    assert "already been decided" in response.content.decode()


def test_approve_on_a_payment_no_longer_refundable_is_refused_and_stays_open(open_request, seller_user):
    open_request.payment.__class__.objects.filter(pk=open_request.payment_id).update(status="refunded",
                                                                                  refunded_amount=49900)
    with pytest.raises(PaymentError):
        refund_request_decide(request=open_request, approve=True, actor=Actor.seller_user(seller_user))
    open_request.refresh_from_db()
    assert open_request.status == "requested" and not Refund.objects.exists()


def test_another_sellers_request_is_404(client, open_request, other_seller):
    stranger = factories.MembershipFactory(seller=other_seller).user
    login(client, stranger)
    response = client.post(f"/dashboard/refund-requests/{open_request.pk}/decide/", APPROVE)
    assert response.status_code == 404
    assert RefundRequest.objects.get().status == "requested"


def test_viewers_cannot_decide(client, open_request, seller):
    viewer = factories.MembershipFactory(seller=seller, role="viewer").user
    login(client, viewer)
    response = client.post(f"/dashboard/refund-requests/{open_request.pk}/decide/", APPROVE)
    assert response.status_code == 403
    assert not Refund.objects.exists()


def test_list_query_count_is_constant(dashboard, seller, fake_nano, django_assert_max_num_queries):
    for n in range(12):
        payment = completed_payment(partner_user_id=f"u{n}@example.com", seller=seller)
        refund_request_create(payment=payment, partner_user_id=f"u{n}@example.com", reason=f"r{n}")
    with django_assert_max_num_queries(10):
        response = dashboard.get("/dashboard/refund-requests/")
    assert response.content.decode().count("Approve refund") == 12

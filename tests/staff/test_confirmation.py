"""Actions that move money ask first, stating the amount and what will happen (like Django's delete
confirmation); harmless ones run at once; the two kinds of buttons look different."""
import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from payments.models import PaymentEvent
from payments.money import RAW_PER_MICRO_XNO
from tests.factories import GatewayPaymentFactory, OrderFactory, PaymentFactory, ReceiptFactory
from tests.staff.conftest import gateway_capture

pytestmark = pytest.mark.django_db


@pytest.fixture
def big_payment(db):
    payment = GatewayPaymentFactory(order=OrderFactory(amount=179800, reference="BIG-1"))
    gateway_capture(payment)
    payment.refresh_from_db()
    return payment


def _post(client, payment, **extra):
    return client.post(reverse("admin:payments_payment_changelist"),
                       {"action": "refund", ACTION_CHECKBOX_NAME: [payment.pk], "index": 0, **extra})


def test_refund_from_the_changelist_asks_first_with_the_amount(client, finance, fake_provider, big_payment):
    client.force_login(finance)
    page = _post(client, big_payment)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Refund in full: are you sure?" in html
    assert "Refund ₹1,798.00 of ₹1,798.00 to the shopper" in html
    assert 'name="confirmed" value="yes"' in html and f'value="{big_payment.pk}"' in html
    big_payment.refresh_from_db()
    assert big_payment.status == "completed" and fake_provider.refunds == []

    # "Yes" posts the selection again without "index" (Django's delete-confirmation route).
    done = client.post(reverse("admin:payments_payment_changelist"),
                       {"action": "refund", ACTION_CHECKBOX_NAME: [big_payment.pk], "confirmed": "yes"})
    assert done.status_code == 302
    big_payment.refresh_from_db()
    assert big_payment.status == "refunded" and len(fake_provider.refunds) == 1
    again = client.post(reverse("admin:payments_payment_changelist"),  # a double submit
                        {"action": "refund", ACTION_CHECKBOX_NAME: [big_payment.pk], "confirmed": "yes"})
    assert again.status_code == 302 and len(fake_provider.refunds) == 1


def test_every_money_action_asks_and_says_how_much(client, finance, late_payment, duplicate_payment):
    client.force_login(finance)
    for code, payment in (("accept_late", late_payment), ("refund_late", late_payment),
                          ("refund_duplicate", duplicate_payment)):
        page = client.post(reverse("admin:payments_payment_changelist"),
                           {"action": code, ACTION_CHECKBOX_NAME: [payment.pk], "index": 0})
        assert page.status_code == 200, code
        html = page.content.decode()
        assert "are you sure?" in html and ("₹" in html or "Ӿ" in html), code
    late_payment.refresh_from_db()
    duplicate_payment.refresh_from_db()
    assert late_payment.status == "expired" and duplicate_payment.review_status == "open"


def test_harmless_recheck_runs_at_once(client, support, fake_provider):
    payment = GatewayPaymentFactory()
    client.force_login(support)
    response = client.post(reverse("admin:payments_payment_changelist"),
                           {"action": "recheck", ACTION_CHECKBOX_NAME: [payment.pk], "index": 0})
    assert response.status_code == 302 and fake_provider.polled


def test_review_queue_money_buttons_ask_and_look_different(client, finance, late_payment):
    client.force_login(finance)
    html = client.get(reverse("staff-review")).content.decode()
    assert 'value="accept_late" class="button kassa-money"' in html
    assert 'value="recheck" class="button kassa-quiet"' in html
    data = {"kind": "payment", "pk": late_payment.pk, "action": "accept_late"}
    page = client.post(reverse("staff-review-act"), data)
    assert page.status_code == 200 and "Accept late payment: are you sure?" in page.content.decode()
    assert "credited to" in page.content.decode()
    late_payment.refresh_from_db()
    assert late_payment.status == "expired"
    assert client.post(reverse("staff-review-act"), {**data, "confirmed": "yes"}).status_code == 302
    late_payment.refresh_from_db()
    assert late_payment.status == "completed"


def test_review_queue_confirmation_still_checks_the_permission(client, support, late_payment):
    client.force_login(support)
    response = client.post(reverse("staff-review-act"), {"kind": "payment", "pk": late_payment.pk,
                                                         "action": "accept_late"})
    assert response.status_code == 403


def test_receipt_assignment_asks_first_with_the_amount(client, finance):
    payment = PaymentFactory(amount_due=28_000_000)
    receipt = ReceiptFactory(pay_to=payment.pay_to, amount=str(payment.amount_due * RAW_PER_MICRO_XNO),
                             state="confirmed")
    client.force_login(finance)
    url = reverse("staff-receipt-assign", args=[receipt.pk])
    page = client.post(url, {"payment": payment.pk})
    assert page.status_code == 200 and "Credit Ӿ28 to payment" in page.content.decode()
    assert not PaymentEvent.objects.filter(payment=payment, type="payment.receipt_assigned").exists()
    assert client.post(url, {"payment": payment.pk, "confirmed": "yes"}).status_code == 302
    assert PaymentEvent.objects.filter(payment=payment, type="payment.receipt_assigned").exists()


def test_settlement_retry_asks_first(client, finance):
    from payments.models import Settlement
    from tests.factories import SellerFactory

    settlement = Settlement.objects.create(seller=SellerFactory(name="Lotus"), method="coinpay", kind="payout",
                                           currency="INR", amount=123450, status="failed", destination="cp_wallet_x")
    client.force_login(finance)
    page = client.post(reverse("admin:payments_settlement_changelist"),
                       {"action": "retry_settlement", ACTION_CHECKBOX_NAME: [settlement.pk], "index": 0})
    assert page.status_code == 200 and "₹1,234.50 to Lotus (cp_wallet_x)" in page.content.decode()
    settlement.refresh_from_db()
    assert settlement.reviewed_at is None

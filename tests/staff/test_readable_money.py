"""Money in the admin reads as the shopper's pages do: "₹1,798.00", never "179800 INR"."""
import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.messages import get_messages
from django.urls import reverse

from payments.models import LedgerEntry, Refund
from tests.factories import GatewayPaymentFactory, OrderFactory, PaymentFactory, ReceiptFactory
from tests.staff.conftest import gateway_capture

pytestmark = pytest.mark.django_db


def test_str_of_payment_order_refund_and_receipt_use_formatted_money():
    order = OrderFactory(reference="R-1", amount=179800, currency="INR")
    nano = PaymentFactory(order=order, amount_due=28_000_000)
    gateway = GatewayPaymentFactory(order=OrderFactory(amount=2800, currency="USD"))
    assert str(order) == "R-1 · ₹1,798.00"
    assert str(nano) == "Nano Ӿ28.000000 for ₹1,798.00 (Pending)"
    assert str(gateway) == "Razorpay $28.00 (Pending)"
    refund = Refund(payment=gateway, seller=gateway.seller, amount=1250, status="pending")
    assert str(refund) == "Refund $12.50 (Pending)"
    receipt = ReceiptFactory(provider="nano", amount=str(28 * 10**30), external_tx_id="AB" * 32)
    assert str(receipt).startswith("Nano receipt Ӿ28 (tx ABABABABABAB")


def test_changelists_show_formatted_amounts(client, admin_user):
    payment = GatewayPaymentFactory(order=OrderFactory(amount=179800, currency="INR"))
    gateway_capture(payment)
    client.force_login(admin_user)
    for name in ("payments_payment", "orders_order", "payments_ledgerentry", "payments_receipt"):
        html = client.get(reverse(f"admin:{name}_changelist")).content.decode()
        assert "₹1,798.00" in html or "₹1,753.05" in html, name
        assert "179800" not in html, name
    assert "₹44.95" in client.get(reverse("admin:payments_ledgerentry_changelist")).content.decode()


def test_change_page_title_and_inlines_are_readable(client, admin_user):
    payment = PaymentFactory(order=OrderFactory(amount=179800), amount_due=28_000_000)
    client.force_login(admin_user)
    html = client.get(reverse("admin:payments_payment_change", args=[payment.pk])).content.decode()
    assert "Nano Ӿ28.000000 for ₹1,798.00 (Pending)" in html
    assert "28000000 XNO" not in html


def test_action_message_is_readable(client, admin_user):
    payment = PaymentFactory(amount_due=28_000_000)
    client.force_login(admin_user)
    response = client.post(reverse("admin:payments_payment_changelist"),
                           {"action": "expire", ACTION_CHECKBOX_NAME: [payment.pk], "index": 0})
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Nano Ӿ28.000000 for ₹499.00 (Pending): expired."]
    assert LedgerEntry.objects.count() == 0

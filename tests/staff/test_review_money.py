"""The review queue shows the money: due, received, the difference, the method and the seller, with
times in the staff clock (settings.STAFF_TIME_ZONE) and its label."""
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from orders.actors import Actor
from payments.models import Payment
from payments.money import RAW_PER_MICRO_XNO
from payments.services import payment_expire_now
from tests.factories import OrderFactory, PaymentFactory, SellerFactory
from tests.staff.conftest import nano_send

pytestmark = pytest.mark.django_db


def _row(html: str, pk) -> str:
    return html.split(f'data-pk="{pk}"')[1].split("</tr>")[0]


def test_review_queue_shows_due_received_difference_method_and_seller(client, finance, settings):
    settings.STAFF_TIME_ZONE = "Asia/Kolkata"
    seller = SellerFactory(name="Lotus Prints")
    late = PaymentFactory(order=OrderFactory(seller=seller), amount_due=5_000_000,
                          created_at=datetime(2026, 11, 25, 8, 35, tzinfo=UTC))
    payment_expire_now(payment=late, actor=Actor.system("test"))
    nano_send(late)
    # and then a top-up of half an XNO (the matching rules are tested elsewhere; here only the display)
    Payment.objects.filter(pk=late.pk).update(amount_received=str(5_500_000 * RAW_PER_MICRO_XNO))
    client.force_login(finance)
    html = client.get(reverse("staff-review")).content.decode()
    row = _row(html, late.pk)
    assert "Lotus Prints" in row and ">Nano<" in row
    assert "Ӿ5.000000" in row and "Ӿ5.5" in row and "over by Ӿ0.5" in row
    assert "Nov 25, 2026, 2:05\u202fPM" in row  # 08:35 UTC in Kolkata
    assert "times in Asia/Kolkata (IST)" in html


def test_an_underpayment_says_by_how_much(client, finance):
    payment = PaymentFactory(amount_due=5_000_000)
    Payment.objects.filter(pk=payment.pk).update(amount_received=str(4_000_000 * RAW_PER_MICRO_XNO), status="expired",
                                                 exceptions=["underpaid"], review_status="open")
    client.force_login(finance)
    row = _row(client.get(reverse("staff-review")).content.decode(), payment.pk)
    assert "under by Ӿ1" in row and "Ӿ4" in row

"""The soak's staff user reads the real review page: its pattern must find the money forms the page renders
for a late payment and for a duplicate (a pattern that silently matches nothing makes a soak that never acts)."""
import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from bench.soak.review import review_money_forms
from orders.actors import Actor
from payments.services import payment_expire_now
from tests.factories import GatewayPaymentFactory, PaymentFactory
from tests.staff.conftest import gateway_capture, nano_send

pytestmark = pytest.mark.django_db


def test_the_staff_user_finds_accept_late_and_refund_duplicate_on_the_review_page(client):
    late = PaymentFactory()
    payment_expire_now(payment=late, actor=Actor.system("test"))
    nano_send(late)
    first = GatewayPaymentFactory()
    gateway_capture(first)
    duplicate = GatewayPaymentFactory(order=first.order)  # a second method on the same order, paid too
    gateway_capture(duplicate)
    client.force_login(get_user_model().objects.create_superuser("soak-staff", "s@example.com", "pw-soak-staff"))

    html = client.get(reverse("staff-review")).content.decode()

    assert review_money_forms(html) == [(str(late.pk), "accept_late"), (str(duplicate.pk), "refund_duplicate")]

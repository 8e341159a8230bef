"""The seller hears by email when Kassa disables one of their webhook endpoints."""
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import OutboxEmail
from tests.factories import MembershipFactory, SellerFactory, UserFactory
from webhooks import delivery as webhooks
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db


def test_a_disabled_webhook_endpoint_tells_the_seller_once():
    seller = SellerFactory()
    MembershipFactory(seller=seller, user=UserFactory(username="dev", email="dev@shop.example"))
    now = timezone.now()
    endpoint = WebhookEndpoint.objects.create(seller=seller, url="https://hooks.shop.example/kassa", secret="s",
                                              failing_since=now - timedelta(days=4))
    webhooks._track_endpoint_health(endpoint.pk, False, now)
    webhooks._track_endpoint_health(endpoint.pk, False, now + timedelta(minutes=1))  # already disabled
    notice = OutboxEmail.objects.get(kind="webhook_disabled")
    assert notice.to == ["dev@shop.example"] and "https://hooks.shop.example/kassa" in notice.text
    assert "3 days" in notice.text

"""The email card on /dashboard/settings/: notices on or off, digest or each order, recipients among members."""
import pytest

from notifications.models import SellerEmailSettings
from notifications.selectors import seller_recipients
from tests import factories
from tests.sellers.dashboard_helpers import login

pytestmark = pytest.mark.django_db


def test_the_card_shows_defaults_and_saves_the_sellers_choices(client, seller, seller_user):
    colleague = factories.MembershipFactory(seller=seller, role="viewer").user
    stranger = factories.UserFactory(username="stranger")
    login(client, seller_user)
    page = client.get("/dashboard/settings/").content.decode()
    assert 'id="email-settings"' in page and "Weekly report with the orders CSV" in page
    assert colleague.email in page and stranger.email not in page
    response = client.post("/dashboard/settings/email/", {
        "email-enabled_kinds": ["order_paid", "weekly_report"], "email-order_paid_mode": "digest",
        "email-recipients": [colleague.pk], "email-require_customer_email": "on"})
    assert response.status_code == 302
    config = SellerEmailSettings.objects.get(seller=seller)
    assert config.order_paid_mode == "digest" and config.require_customer_email
    assert set(config.disabled_kinds) == {"money_attention", "refund_request", "webhook_disabled",
                                          "settlement_failed"}
    assert seller_recipients(seller, "weekly_report") == [colleague.email]
    assert seller_recipients(seller, "money_attention") == []


def test_a_stranger_cannot_be_made_a_recipient(client, seller, seller_user):
    stranger = factories.UserFactory(username="stranger")
    login(client, seller_user)
    client.post("/dashboard/settings/email/", {"email-order_paid_mode": "each", "email-recipients": [stranger.pk]})
    assert not SellerEmailSettings.objects.filter(seller=seller).exists()


def test_viewers_cannot_change_email_settings(client, seller):
    viewer = factories.MembershipFactory(seller=seller, role="viewer").user
    login(client, viewer)
    response = client.post("/dashboard/settings/email/", {"email-order_paid_mode": "digest"})
    assert response.status_code == 403 and not SellerEmailSettings.objects.exists()

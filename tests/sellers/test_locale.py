"""Locale: the dashboard formats money and dates in the seller's locale, shop pages in the shopper's
(Accept-Language). English is the only catalogue; templates mark their text for translation."""
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.template.loader import render_to_string
from django.test import override_settings
from django.utils import translation

from sellers.models import Seller
from tests import factories
from tests.sellers.dashboard_helpers import login, paid_order

pytestmark = pytest.mark.django_db

LAKH = "₹1,24,884.00"
THOUSANDS = "₹124,884.00"


def test_an_inr_seller_sees_lakh_grouping_by_default(client, seller, seller_user):
    order, _ = paid_order(seller, amount=12488400)
    login(client, seller_user)
    assert seller.locale == "" and seller.format_language == "en-in"
    assert LAKH in client.get(f"/dashboard/orders/{order.pk}/").content.decode()


def test_the_dashboard_follows_the_sellers_locale_setting(client, seller, seller_user):
    order, _ = paid_order(seller, amount=12488400)
    Seller.objects.filter(pk=seller.pk).update(locale="en-us")
    login(client, seller_user)
    body = client.get(f"/dashboard/orders/{order.pk}/").content.decode()
    assert THOUSANDS in body and LAKH not in body


def test_a_usd_seller_defaults_to_plain_english():
    assert Seller(default_currency="USD").format_language == "en"


def test_settings_save_the_locale(client, seller, seller_user):
    login(client, seller_user)
    response = client.post("/dashboard/settings/", {"name": "Shop", "timezone": "Asia/Kolkata", "locale": "en-gb",
                                                     "default_currency": "INR", "save-settings": "1"})
    assert response.status_code == 302
    seller.refresh_from_db()
    assert seller.locale == "en-gb"
    bad = client.post("/dashboard/settings/", {"name": "Shop", "timezone": "UTC", "locale": "xx-evil",
                                               "default_currency": "INR", "save-settings": "1"})
    assert bad.status_code == 400


@pytest.mark.parametrize(("accept", "text"), [("en-IN,en;q=0.8", LAKH), ("en-US,en;q=0.8", THOUSANDS),
                                               ("de-DE,de;q=0.9", THOUSANDS), ("", THOUSANDS)])
def test_shop_pages_follow_accept_language(client, seller, accept, text):
    factories.ProductFactory(seller=seller, unit_amount=12488400, currency="INR")
    response = client.get(f"/s/{seller.slug}/", headers={"accept-language": accept})
    assert text in response.content.decode()
    assert "Accept-Language" in response["Vary"]


def test_other_pages_use_the_default_language(client, seller, seller_user):
    """The shopper's language from one request never leaks into the next (thread-local activation)."""
    factories.ProductFactory(seller=seller, unit_amount=12488400, currency="INR")
    client.get(f"/s/{seller.slug}/", headers={"accept-language": "en-IN"})
    client.get("/accounts/login/", headers={"accept-language": "en-IN"})
    assert translation.get_language() == settings.LANGUAGE_CODE == "en"


def test_templates_load_i18n_and_render(rf):
    html = render_to_string("registration/login.html", {"form": None}, request=rf.get("/accounts/login/"))
    assert "Log in to your dashboard" in html


def test_makemessages_collects_the_templates_strings(tmp_path, monkeypatch):
    """`makemessages -l en` works: run on a copy of the templates so the committed catalogue is untouched."""
    shutil.copytree(Path(settings.BASE_DIR) / "templates", tmp_path / "templates")
    (tmp_path / "locale").mkdir()
    monkeypatch.chdir(tmp_path)
    with override_settings(LOCALE_PATHS=[str(tmp_path / "locale")]):
        call_command("makemessages", locale=["en"], verbosity=0, no_obsolete=True)
    po = (tmp_path / "locale" / "en" / "LC_MESSAGES" / "django.po").read_text()
    assert 'msgid "Orders"' in po and 'msgid "Log in to your dashboard"' in po

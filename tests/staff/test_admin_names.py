"""The admin speaks Kassa: its header, and plurals a person would write."""
import re

import pytest
from django.contrib import admin
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_header_and_titles_say_kassa(client, admin_user):
    client.force_login(admin_user)
    html = client.get(reverse("admin:index")).content.decode()
    assert "Django administration" not in html and "Django site admin" not in html
    assert '<a href="/admin/">Kassa</a>' in html and "<title>Kassa staff | Kassa</title>" in html
    assert "Kassa staff" in html


def test_every_admin_model_has_a_proper_plural():
    for model in admin.site._registry:
        plural = str(model._meta.verbose_name_plural)
        # Django adds an "s": "ledger entrys", "webhook deliverys".
        assert not re.search(r"[^aeiou]ys$", plural), f"{model.__name__}: {plural}"
        assert not plural.lower().startswith("api ") or plural.startswith("API "), f"{model.__name__}: {plural}"


def test_plurals_on_the_index(client, admin_user):
    client.force_login(admin_user)
    html = client.get(reverse("admin:index")).content.decode()
    for plural in ("Ledger entries", "Webhook deliveries", "API keys"):
        assert plural in html

"""Junk in query strings and forms never becomes a 500 on any page: dashboard, shop or admin.
A sweep over seeded data (the same sweep found the admin analytics' unknown-currency crash)."""
import itertools

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from orders.models import Order
from tests.two_factor import verify_session

JUNK = ["", "?range=zzz", "?range=custom&from=x&to=y", "?status=%00", "?sort=;drop", "?o=999", "?page=-1",
        "?page=999999", "?p=99999", "?amount_min=abc&amount_max=1e99", "?q=%3Cscript%3E", "?export=csv&status=bogus",
        "?method=../../etc", "?date_from=99999-01-01", "?from=9999-01-01&to=0001-01-01", "?currency=ZZZ",
        "?currency=%F0%9F%92%A9", "?page=1.5", "?q=" + "a" * 3000]


@pytest.fixture
def seeded(db):
    call_command("seed_demo", "--orders", "15", stdout=open("/dev/null", "w"))  # noqa: SIM115
    return Order.objects.filter(seller__slug="asha-prints").first()


def client_for(username: str) -> Client:
    client = Client(raise_request_exception=False)
    user = get_user_model().objects.get(username=username)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    if user.is_staff:
        verify_session(client, user)  # staff pages need a verified second factor
    return client


def sweep(client, paths, queries, method="get") -> list:
    return [(method, path + query, response.status_code)
            for path, query in itertools.product(paths, queries)
            if (response := getattr(client, method)(path + query)).status_code >= 500]


def test_dashboard_pages(seeded):
    paths = ["/dashboard/", "/dashboard/orders/", "/dashboard/payments/", "/dashboard/products/",
             "/dashboard/settings/", "/dashboard/developers/", "/dashboard/refund-requests/",
             f"/dashboard/orders/{seeded.pk}/"]
    assert sweep(client_for("asha"), paths, JUNK) == []


def test_shop_pages(seeded):
    token = seeded.checkout_token
    paths = ["/s/asha-prints/", f"/checkout/{token}/", f"/checkout/{token}/done/", f"/checkout/{token}/status/",
             f"/checkout/{token}/pay/nano/", f"/checkout/{token}/pay/bitcoin/", "/checkout/nope/", "/me/payments/"]
    anonymous = Client(raise_request_exception=False)
    queries = JUNK[:8] + ["?partner_token=%00"]
    assert sweep(anonymous, paths, queries) + sweep(anonymous, paths, queries, method="post") == []


def test_nul_bytes_in_urls_are_a_clear_400(client, seeded):
    for url in ("/admin/orders/order/?status=%00", f"/checkout/{seeded.checkout_token}%00/", "/api/v1/orders/?q=%00"):
        response = client.get(url)
        assert response.status_code == 400 and "NUL" in response.json()["error"]["message"]


def test_staff_pages(seeded):
    paths = ["/admin/", "/admin/analytics/", "/admin/routing/", "/admin/review/"]
    paths += [f"/admin/{model._meta.app_label}/{model._meta.model_name}/" for model in admin.site._registry]
    assert sweep(client_for("admin"), paths, JUNK) == []

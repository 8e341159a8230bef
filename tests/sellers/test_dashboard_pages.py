"""Every dashboard page renders for a seller, redirects anonymous users, and escapes input."""
from datetime import UTC

import pytest
from django.contrib.auth import get_user_model

from tests import factories
from tests.sellers.dashboard_helpers import login, open_order, paid_order

pytestmark = pytest.mark.django_db

PAGES = ["/dashboard/", "/dashboard/orders/", "/dashboard/payments/", "/dashboard/products/",
         "/dashboard/settings/", "/dashboard/developers/"]


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_is_sent_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("url", PAGES)
def test_user_without_a_seller_gets_404(client, url):
    login(client, get_user_model().objects.create_user("lonely", password="x-very-long-pass"))
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("url", PAGES)
def test_pages_render_empty_for_a_new_seller(client, seller_user, url):
    response = login(client, seller_user).get(url)
    assert response.status_code == 200
    assert b"<script>alert" not in response.content


def test_overview_empty_state_for_new_seller(client, seller_user):
    response = login(client, seller_user).get("/dashboard/")
    assert b"No orders yet" in response.content
    assert b'data-chart="chart-volume-config"' not in response.content


def test_pages_with_data_render(client, seller, seller_user):
    order, _ = paid_order(seller, reference="R-1")
    open_order(seller)
    factories.ProductFactory(seller=seller)
    login(client, seller_user)
    for url in [*PAGES, f"/dashboard/orders/{order.pk}/", "/dashboard/?range=7d", "/dashboard/?range=today",
                "/dashboard/?range=90d", "/dashboard/?range=custom&from=2026-01-01&to=2026-02-01"]:
        assert client.get(url).status_code == 200, url
    body = client.get("/dashboard/").content.decode()
    assert 'data-chart="chart-volume-config"' in body and "chart-methods" in body and "chart-funnel" in body
    assert "₹499.00" in body


def test_script_in_names_is_escaped(client, seller, seller_user):
    evil = "<script>alert(1)</script>"
    seller.name = evil
    seller.save()
    order, _ = paid_order(seller, reference="<script>x</script>", email="a@example.com")
    factories.ProductFactory(seller=seller, name=evil)
    login(client, seller_user)
    for url in [*PAGES, f"/dashboard/orders/{order.pk}/"]:
        body = client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in body and "<script>x</script>" not in body, url
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/dashboard/products/").content.decode()


def test_money_per_currency_and_times_in_seller_timezone(client, seller, seller_user):
    from datetime import datetime

    at = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)  # 1:30 on 2 Mar in Kolkata
    paid_order(seller, amount=1_500_000, currency="XNO", method="nano", at=at, reference="XNO-1")
    paid_order(seller, amount=12345, currency="INR", at=at, reference="INR-1")
    body = login(client, seller_user).get("/dashboard/orders/").content.decode()
    assert "Ӿ1.500000" in body
    assert "₹123.45" in body
    assert "2 Mar 2026, 1:30\u202fAM" in body  # the INR seller sees en-IN dates


def test_bad_custom_range_shows_message_not_500(client, seller_user):
    response = login(client, seller_user).get("/dashboard/?range=custom&from=2026-05-01&to=nonsense")
    assert response.status_code == 200
    assert b"YYYY-MM-DD" in response.content


def test_lockout_template_explains_the_lockout(client, seller_user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        response = client.post("/accounts/login/", {"username": seller_user.username, "password": "wrong"},
                               REMOTE_ADDR="10.0.0.9")
    assert response.status_code in (403, 429)
    assert b"Too many failed log-ins" in response.content
    assert b"15 minutes" in response.content

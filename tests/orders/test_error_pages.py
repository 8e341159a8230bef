"""Shoppers get error pages in the shop's own layout: 404 for an unknown checkout token or shop (also
with DEBUG on, never Django's technical page with the URL map), 403 and 500; and a favicon."""
import pytest
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory, override_settings

pytestmark = pytest.mark.django_db

SHOPPER_404S = ["/checkout/no-such-token/", "/checkout/no-such-token/pay/nano/", "/s/no-such-shop/",
                "/s/no-such-shop/not/a/page/", "/me/not-a-page/"]


def _is_styled_404(response) -> bool:
    html = response.content.decode()
    return (response.status_code == 404 and 'class="shop-page"' in html and "We can’t find that page" in html
            and "URLconf" not in html and "Technical" not in html)


@pytest.mark.parametrize("path", SHOPPER_404S)
@pytest.mark.parametrize("debug", [False, True])
def test_unknown_shopper_urls_get_the_styled_404(client, path, debug):
    with override_settings(DEBUG=debug):
        response = client.get(path)
    assert _is_styled_404(response), response.content.decode()[:400]


@override_settings(DEBUG=True)
def test_debug_keeps_the_technical_404_outside_shopper_pages(client, admin_client):
    assert "URLconf" in client.get("/no-such-area/").content.decode()


def test_500_and_403_use_the_shop_layout():
    from django.views.defaults import permission_denied

    from config.views import server_error

    request = RequestFactory().get("/checkout/x/")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        error = server_error(request)
    assert error.status_code == 500 and 'class="shop-page"' in error.content.decode()
    assert "Something went wrong on our side" in error.content.decode()
    denied = permission_denied(request, PermissionDenied())
    assert denied.status_code == 403 and 'class="shop-page"' in denied.content.decode()


def test_favicon_is_linked_and_served(client):
    assert finders.find("favicon.svg")
    response = client.get("/favicon.ico")
    assert response.status_code in (301, 302) and response["Location"].endswith("favicon.svg")
    page = client.get("/s/no-such-shop/").content.decode()
    assert 'rel="icon"' in page

"""Every dashboard page at 1366 px and at 390 px (a phone): nothing scrolls sideways, tables keep status
and amount in view, the refund confirmation step and the payments CSV work in a real browser.

Screenshots go to var/artifacts/screenshots/<page>-<width>.png.
"""
import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from payments.models import Payment
from payments.providers.base import RefundResult
from sellers import services
from tests import factories
from tests.sellers.dashboard_helpers import open_order, paid_order
from tests.services_patch import use_provider
from webhooks.services import webhook_endpoint_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = Path(settings.BASE_DIR) / "var" / "artifacts" / "screenshots"
WIDTHS = (1366, 390)
PASSWORD = "correct-horse-battery"


class _Refunds:
    def refund(self, payment, amount_minor, **kwargs):
        return RefundResult(provider_refund_id=f"rfnd_{payment.pk.hex[:10]}_{amount_minor}", status="succeeded")


@pytest.fixture
def shop(monkeypatch):
    use_provider(monkeypatch, lambda method: _Refunds())
    seller = factories.SellerFactory(name="Asha Prints and Frames of Jaipur", slug="asha")
    user = factories.MembershipFactory(seller=seller, user__username="asha-owner").user
    user.save()
    now = timezone.now()
    orders = [paid_order(seller, amount=12488400 - i * 99, method=("razorpay", "nano", "coinpay")[i % 3],
                         at=now - timedelta(days=i), reference=f"ASHA-LONG-REFERENCE-{1000 + i}",
                         email=f"a-very-long-shopper-address-{i}@example.com") for i in range(8)]
    open_order(seller)
    factories.ProductFactory(seller=seller, name="A3 print")
    services.api_key_create(seller=seller, name="Production server key")
    webhook_endpoint_create(seller=seller, url="https://hooks.example.com/kassa/a/very/long/path/x" * 2, events=[])
    return seller, user, orders


@pytest.fixture
def page(live_server, browser):
    context = browser.new_context(viewport={"width": WIDTHS[0], "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.base = live_server.url
    yield page
    context.close()


def _login(page, user):
    page.goto(page.base + "/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(page.base + "/dashboard/")


def _check_page(page, name: str) -> None:
    """At each width: no sideways scroll, and each table row's status and amount cells are in the viewport."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(150)
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        if widths[0] != widths[1]:
            culprits = page.evaluate("""() => [...document.querySelectorAll('body *')]
                .filter(el => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
                .filter(el => !el.closest('.sidebar-nav'))
                .slice(0, 12)
                .map(el => el.tagName + '.' + el.className + ' ' + Math.round(el.getBoundingClientRect().right))""")
            pytest.fail(f"{name} at {width}px scrolls sideways: {widths}; too wide: {culprits}")
        hidden = page.evaluate("""() => [...document.querySelectorAll('table.table tbody td[data-label]')]
            .filter(td => ['Status', 'Amount'].includes(td.dataset.label))
            .filter(td => { const r = td.getBoundingClientRect();
                            return r.width === 0 || r.left < 0 || r.right > document.documentElement.clientWidth; })
            .map(td => td.dataset.label)""")
        assert hidden == [], f"{name} at {width}px hides {hidden}"
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})


def test_every_dashboard_page_fits_1366_and_390(page, shop):
    seller, user, orders = shop
    _login(page, user)
    order, payment = orders[0]
    pages = {
        "overview": "/dashboard/", "orders": "/dashboard/orders/", "order-detail": f"/dashboard/orders/{order.pk}/",
        "payments": "/dashboard/payments/", "payment-detail": f"/dashboard/payments/{payment.pk}/",
        "refund-requests": "/dashboard/refund-requests/", "products": "/dashboard/products/",
        "settings": "/dashboard/settings/", "developers": "/dashboard/developers/",
    }
    for name, path in pages.items():
        page.goto(page.base + path)
        _check_page(page, name)
    # Status and amount are labelled cells in every list table, so the phone layout can keep them.
    page.goto(page.base + "/dashboard/payments/")
    assert page.locator("table.table tbody td[data-label=Status]").count() == 9


def test_refund_asks_with_the_amount_then_refunds(page, shop):
    seller, user, orders = shop
    order, payment = orders[0]
    _login(page, user)
    page.goto(page.base + f"/dashboard/orders/{order.pk}/")
    page.fill(f"input[name='refund-{payment.pk}-amount']", "399")
    page.click(".refund-form button:has-text('Refund this amount')")
    page.wait_for_selector("text=Refund ₹399.00 of ₹1,24,884.00 to the shopper?")
    _check_page(page, "refund-confirm")
    assert Payment.objects.get(pk=payment.pk).refunded_amount == 0  # asking moved nothing
    page.click("button:has-text('Yes, refund ₹399.00')")
    page.wait_for_selector("text=Refunded ₹399.00.")
    assert Payment.objects.get(pk=payment.pk).refunded_amount == 39900
    # The order is partly refunded and can still be fulfilled.
    assert page.locator("button:has-text('Mark fulfilled')").count() == 1


def test_payments_csv_downloads_from_the_list(page, shop):
    seller, user, orders = shop
    _login(page, user)
    page.goto(page.base + "/dashboard/payments/")
    assert "9 payments" in page.inner_text("[data-testid=list-total]")
    with page.expect_download() as download:
        page.click("text=Export CSV")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert len(rows) == 9 and {"refunded", "fee", "net"} <= set(rows[0])
    assert {r["reference"] for r in rows} >= {"ASHA-LONG-REFERENCE-1000"}


def test_forgot_password_page_fits(page, shop):
    page.goto(page.base + "/accounts/login/")
    page.click("text=Forgot your password?")
    page.wait_for_selector("text=Send the link")
    _check_page(page, "password-reset")

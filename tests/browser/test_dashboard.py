"""The seller dashboard in a real browser (Debian Chromium through Playwright).

login → overview (charts render, no console errors) → filter orders → export CSV →
order detail → partial refund. Screenshots at 375 px and 1280 px go to var/artifacts/screenshots/.
"""
import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from payments.models import Payment
from payments.providers.base import RefundResult
from tests import factories
from tests.conftest import screenshot
from tests.sellers.dashboard_helpers import open_order, paid_order
from tests.services_patch import use_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"


class _Refunds:
    def refund(self, payment, amount_minor, **kwargs):
        return RefundResult(provider_refund_id=f"rfnd_{payment.pk.hex[:10]}_{amount_minor}", status="succeeded")


@pytest.fixture
def store(monkeypatch):
    use_provider(monkeypatch, lambda method: _Refunds())
    seller = factories.SellerFactory(name="Lotus <script>alert(1)</script> Prints", slug="lotus")
    user = factories.MembershipFactory(seller=seller, user__username="lotus-owner").user
    user.save()  # persist the factory's password for the login form
    now = timezone.now()
    methods = ["razorpay", "nano", "coinpay"]
    for i in range(24):
        paid_order(seller, amount=25000 + i * 1750, method=methods[i % 3], at=now - timedelta(days=i, hours=2),
                   reference=f"LP-{1000 + i}", email=f"buyer{i}@example.com")
    for i in range(5):
        open_order(seller, status="expired", payment_status="expired", at=now - timedelta(days=i * 3, hours=5))
    open_order(seller)
    factories.ProductFactory(seller=seller, name="Lotus print A3")
    return seller, user


@pytest.fixture
def page(live_server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.errors = []
    page.on("console", lambda msg: msg.type == "error" and "Failed to load resource" not in msg.text
            and page.errors.append(msg.text))
    # Failed loads are tracked by URL instead; browsers ask for /favicon.ico on their own.
    page.on("response", lambda r: r.status >= 400 and not r.url.endswith("/favicon.ico")
            and page.errors.append(f"{r.status} {r.url}"))
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())  # the data-confirm prompts
    page.base = live_server.url
    yield page
    context.close()


def _shots(page, name):
    page.wait_for_timeout(250)  # charts resize
    screenshot(page, f"dashboard-{name}")


def test_login_overview_filter_export_refund(page, store):
    seller, user = store
    page.goto(page.base + "/dashboard/")
    assert "/accounts/login/" in page.url
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(page.base + "/dashboard/")

    # Overview: three charts drawn by Chart.js, KPI cards, escaped seller name, no console errors.
    page.wait_for_function("() => window.Chart && ['chart-volume','chart-methods','chart-funnel']"
                           ".every(id => window.Chart.getChart(document.getElementById(id)))")
    assert page.locator(".kpi").count() == 9
    assert "Lotus <script>alert(1)</script> Prints" in page.inner_text(".seller-name")
    _shots(page, "overview")
    page.click("a:has-text('7 days')")
    page.wait_for_function("() => window.Chart && window.Chart.getChart(document.getElementById('chart-volume'))")
    assert "range=7d" in page.url

    # Orders: filter to expired, then back to paid and export the filtered set.
    page.click("nav.sidebar >> text=Orders")
    page.select_option("select[name=status]", "expired")
    page.click(".filter-bar button[type=submit]")
    assert page.locator("#orders-table tbody tr").count() == 5
    page.select_option("select[name=status]", "paid")
    page.click(".filter-bar button[type=submit]")
    assert page.locator("#orders-table tbody tr").count() == 24
    _shots(page, "orders")
    with page.expect_download() as download_info:
        page.click("text=Export CSV")
    rows = list(csv.reader(io.StringIO(Path(download_info.value.path()).read_text())))
    assert len(rows) == 25 and {r[3] for r in rows[1:]} == {"paid"}

    # Order detail → partial refund (the confirm dialog is accepted).
    page.click("#orders-table tbody tr:first-child a")
    page.wait_for_selector("text=Timeline")
    _shots(page, "order-detail")
    payment = Payment.objects.get(order__reference="LP-1000")
    page.fill(f"input[name='refund-{payment.pk}-amount']", "50")
    page.click(".refund-form button:has-text('Refund this amount')")
    page.wait_for_selector("text=Refund ₹50.00 of ₹250.00 to the shopper?")  # the confirmation step
    page.click("button:has-text('Yes, refund ₹50.00')")
    page.wait_for_selector("text=Refunded ₹50.00.")
    payment.refresh_from_db()
    assert payment.status == "partially_refunded" and payment.refunded_amount == 5000
    _shots(page, "order-refunded")

    for path, name in (("/dashboard/payments/", "payments"), ("/dashboard/products/", "products"),
                       ("/dashboard/settings/", "settings"), ("/dashboard/developers/", "developers")):
        page.goto(page.base + path)
        _shots(page, name)
    assert page.errors == []

"""Issue 19 in a real browser, at 1366 and 390 px: formatted money in the admin changelist (which fits 1366
px), the confirmation page before a refund, the styled 404 under DEBUG on and off, and the pay page after
"Time is up". Screenshots in var/artifacts/screenshots/."""
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from payments.staff.groups import staff_groups_sync
from tests import factories
from tests.staff.conftest import fake_provider, gateway_capture  # noqa: F401 - fixture
from tests.two_factor import confirmed_device, staff_browser_log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path(__file__).resolve().parents[2] / "var" / "artifacts" / "screenshots"
WIDTHS = (1366, 390)


def shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-{page.viewport_size['width']}.png"), full_page=True)


def overflow(page) -> int:
    """How far the page scrolls sideways (0: it fits)."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


@pytest.fixture
def staff_scene(transactional_db):
    staff_groups_sync()
    user = get_user_model().objects.create_user("fin", "fin@example.com", "correct-horse-battery", is_staff=True)
    user.groups.add(Group.objects.get(name="Finance"))
    seller = factories.SellerFactory(name="Asha Prints")
    payments = []
    for _ in range(2):
        payment = factories.GatewayPaymentFactory(order=factories.OrderFactory(seller=seller, amount=179800))
        gateway_capture(payment)
        payments.append(payment)
    factories.PaymentFactory(order=factories.OrderFactory(seller=seller), amount_due=28_000_000)
    return {"user": user, "device": confirmed_device(user), "payments": payments}


def login(page, base, scene):
    staff_browser_log_in(page, base, scene["device"])
    page.wait_for_url(f"{base}/admin/")


@pytest.mark.parametrize("width", WIDTHS)
def test_changelist_money_and_refund_confirmation(live_server, browser, staff_scene, fake_provider, width):  # noqa: F811
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": width, "height": 900})
    login(page, live_server.url, staff_scene)
    expect(page.locator("#site-name")).to_have_text("Kassa")
    page.goto(f"{live_server.url}/admin/payments/payment/")
    results = page.locator("#result_list")
    expect(results).to_contain_text("₹1,798.00")
    expect(results).to_contain_text("Ӿ28.000000")
    assert "179800" not in results.inner_text()
    shoot(page, "admin-payments-changelist")
    if width == 1366:
        assert overflow(page) == 0, "the payments changelist scrolls sideways at 1366 px"
        clipped = page.evaluate("(() => { const r = document.querySelector('.results'); "
                                "return r.scrollWidth - r.clientWidth; })()")
        assert clipped == 0, "the results table is cut off inside its box at 1366 px"

    target = staff_scene["payments"][0]
    page.check(f'input[name="_selected_action"][value="{target.pk}"]')
    page.select_option('select[name="action"]', "refund")
    page.click('button[name="index"]')
    expect(page.locator("h1")).to_contain_text("Refund in full: are you sure?")
    expect(page.locator("#kassa-confirm-items")).to_contain_text("Refund ₹1,798.00 of ₹1,798.00 to the shopper")
    if width == 1366:
        assert overflow(page) == 0
    shoot(page, "admin-refund-confirm")
    target.refresh_from_db()
    assert target.status == "completed" and fake_provider.refunds == []

    if width == 390:  # "No" changes nothing
        page.click("text=No, take me back")
        expect(page.locator("#result_list")).to_be_visible()
        target.refresh_from_db()
        assert target.status == "completed"
        return
    yes = page.locator("#kassa-confirm-yes")
    yes.dblclick()  # a double click sends once
    expect(page.locator(".messagelist")).to_contain_text("₹1,798.00")
    target.refresh_from_db()
    assert target.status == "refunded" and len(fake_provider.refunds) == 1
    shoot(page, "admin-refund-done")


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("debug", [False, True])
def test_styled_404_for_shoppers(live_server, browser, settings, width, debug):
    settings.DEBUG = debug
    page = browser.new_page(viewport={"width": width, "height": 800})
    for path in ("/checkout/no-such-token/", "/s/no-such-shop/"):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 404
        assert page.locator("h1").inner_text() == "We can’t find that page"
        assert "URLconf" not in page.content()
        assert overflow(page) == 0
    shoot(page, f"shop-404-debug-{str(debug).lower()}")
    favicon = page.goto(f"{live_server.url}/favicon.ico")
    assert favicon.status == 200 and "svg" in favicon.headers["content-type"]


@pytest.mark.parametrize("width", WIDTHS)
def test_pay_page_when_time_runs_out(live_server, browser, width):
    from playwright.sync_api import expect

    params = {"order_id": "order_Test0000000001", "checkout_url": f"{live_server.url}/nowhere", "key_id": "k",
              "amount": 49900, "currency": "INR", "name": "Asha Prints", "description": "Order"}
    payment = factories.GatewayPaymentFactory(checkout_params=params,
                                              expires_at=timezone.now() + timedelta(seconds=4))
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(f"{live_server.url}/checkout/{payment.order.checkout_token}/pay/razorpay/")
    pay = page.locator('[data-testid="razorpay-pay"]')
    expect(pay).to_be_enabled()
    expect(page.locator("#try-again")).to_be_hidden()
    # The countdown reaches zero: the button is disabled and "Try again" offered, without a reload.
    expect(pay).to_be_disabled(timeout=10_000)
    expect(page.locator("#try-again")).to_be_visible()
    assert overflow(page) == 0
    shoot(page, "shop-pay-time-up")
    page.reload()  # and the same from the server, for a page without JS
    expect(pay).to_be_disabled()
    expect(page.locator("#try-again")).to_be_visible()

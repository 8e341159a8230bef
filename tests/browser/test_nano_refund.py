"""The seller's Nano refund instructions in a real browser (Debian Chromium through Playwright):
what to send, to whom, a QR code, copy buttons that JS reveals and that copy the exact value.
Screenshots at 390 px and 1366 px go to var/artifacts/screenshots/."""
import pytest

from core.nano_codec import RAW_PER_MICRO
from payments.models import Refund
from tests import factories
from tests.conftest import screenshot
from tests.sellers.dashboard_helpers import paid_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"


def test_the_seller_sees_exactly_what_to_send(live_server, browser):
    seller = factories.SellerFactory(name="Nordic Knits", slug="nordic", default_currency="XNO")
    user = factories.MembershipFactory(seller=seller, user__username="nordic-owner").user
    user.save()  # persist the factory's password for the login form
    _order, payment = paid_order(seller, amount=2_000_000, currency="XNO", method="nano", reference="NK-1")
    shopper = factories.nano_address("browser-shopper")
    raw = str(2_000_001 * RAW_PER_MICRO)
    refund = Refund.objects.create(payment=payment, seller=seller, amount=2_000_000, status="awaiting_seller",
                                   send_from=payment.pay_to, send_to=shopper, amount_raw=raw, after_height=3)

    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and "Failed to load resource" not in msg.text
            and errors.append(msg.text))
    # Failed loads are tracked by URL instead; browsers ask for /favicon.ico on their own.
    page.on("response", lambda r: r.status >= 400 and not r.url.endswith("/favicon.ico")
            and errors.append(f"{r.status} {r.url}"))
    page.goto(f"{live_server.url}/dashboard/refunds/{refund.pk}/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=refund-instructions]")

    assert page.inner_text("[data-testid=refund-to]") == shopper
    assert page.inner_text("[data-testid=refund-from]") == payment.pay_to
    assert page.inner_text("[data-testid=refund-xno]") == "2.000001 XNO"
    assert page.locator(".qr svg.qr-code").is_visible()
    assert page.get_attribute("a.qr", "href") == f"nano:{shopper}?amount={raw}"
    copy = page.locator(f"button[data-copy='{shopper}']")
    assert copy.is_visible(), "kassa.js reveals the copy buttons"
    copy.click()
    assert page.evaluate("navigator.clipboard.readText()") == shopper
    assert page.locator("text=Waiting for the seller to send").count() >= 1
    screenshot(page, "dashboard-nano-refund", widths=(390, 1366))

    # Cancelling asks first: dismissed, nothing changes; accepted, the refund is cancelled.
    prompts = []
    answer = {"accept": False}
    page.on("dialog", lambda d: (prompts.append(d.message), d.accept() if answer["accept"] else d.dismiss()))
    page.click("[data-testid=refund-cancel]")
    assert prompts and "have not sent it" in prompts[-1]
    assert Refund.objects.get(pk=refund.pk).status == "awaiting_seller"
    answer["accept"] = True
    with page.expect_navigation():
        page.click("[data-testid=refund-cancel]")
    assert page.locator("text=Refund cancelled").count() == 1
    assert page.locator("[data-testid=refund-instructions]").count() == 0
    assert Refund.objects.get(pk=refund.pk).status == "cancelled"
    assert errors == []
    context.close()

"""The sandbox inbox in a real browser: a shopper gives an email at checkout, pays through the
sandbox, and the receipt is in the mail catcher's inbox, readable as HTML and text.
Screenshots go to var/artifacts/screenshots/."""
import re
from pathlib import Path

import pytest

from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path(__file__).resolve().parents[2] / "var" / "artifacts" / "screenshots"


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"mail-{name}.png"), full_page=True)


@pytest.fixture
def shop(sandbox_process, settings):  # noqa: F811
    import requests

    from payments.providers import registry

    settings.SANDBOX_MODE = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", settings.SANDBOX_SMTP_PORT, False
    requests.post(f"{sandbox_process}/mail/_clear", timeout=5)
    registry.reset_providers()
    seller = factories.SellerFactory(name="Lotus <Prints>", slug="lotus-mail", enabled_methods=["nano"],
                                     support_email="help@lotus.example")
    factories.PayoutDestinationFactory(seller=seller)
    factories.ProductFactory(seller=seller, name="Lotus pond, A3 art print", unit_amount=49900)
    yield seller
    registry.reset_providers()


def test_the_receipt_arrives_in_the_sandbox_inbox(browser, live_server, shop, sandbox_process, settings):  # noqa: F811
    settings.SITE_URL = live_server.url
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/s/{shop.slug}/")
    page.get_by_role("button", name="Buy Lotus pond, A3 art print").click()
    page.wait_for_url(re.compile(r"/checkout/[^/]+/$"))
    page.get_by_label("Email for your receipt (optional)").fill("asha.shopper@example.com")
    shot(page, "checkout")
    page.get_by_role("button", name="Nano (XNO)").click()
    page.wait_for_url(re.compile(r"/checkout/[^/]+/pay/nano/$"))
    page.get_by_role("button", name="Simulate payment (sandbox)").click()
    page.wait_for_url(re.compile(r"/done/$"), timeout=15_000)

    from orders.models import Order

    order = Order.objects.get(seller=shop)
    page.goto(f"{sandbox_process}/mail/")
    link = page.get_by_role("link", name=re.compile(f"Your receipt from Lotus <Prints> \\({order.reference or ''}"))
    link.wait_for(timeout=10_000)
    shot(page, "inbox")
    link.click()
    page.wait_for_url(re.compile(r"/mail/\d+/$"))
    assert "asha.shopper@example.com" in page.locator("table").first.inner_text()
    frame = page.frame_locator("iframe[sandbox]")
    frame.get_by_text("Thank you for your payment to").wait_for()
    assert frame.get_by_text("Lotus pond, A3 art print × 1").is_visible()
    assert frame.get_by_role("link", name="View your order").get_attribute("href").endswith(
        f"/checkout/{order.checkout_token}/done/")
    assert "Order reference:" in page.locator("pre").inner_text()
    shot(page, "receipt")

"""'My payments' in a real browser (Debian Chromium via Playwright), verified against
the sandbox partner API over HTTP. Screenshots at 375 px and 1280 px go to var/artifacts/screenshots/."""
from datetime import timedelta

import pytest
from django.utils import timezone

from payments.services import refund_request_create
from tests import factories
from tests.conftest import SCREENSHOTS
from tests.partner.conftest import completed_payment
from tests.services_patch import use_provider

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ME = "user@example.com"


@pytest.fixture
def partner_sandbox(sandbox_process, settings):
    settings.PARTNER_VERIFY_URL = f"{sandbox_process}/partner/verify"
    settings.PARTNER_API_KEY = "sandbox_partner_key"
    return sandbox_process


@pytest.fixture
def history():
    lotus = factories.SellerFactory(name="Lotus Prints", slug="lotus", support_email="help@lotus.example")
    tea = factories.SellerFactory(name="Darjeeling Tea Company of Kolkata", slug="tea")
    paid = completed_payment(partner_user_id=ME, seller=lotus, reference="LOT-1042",
                             delivery_info="Shipped with BlueDart, AWB 7781 2203 11")
    refund_request_create(payment=paid, partner_user_id=ME, reason="The frame arrived cracked")
    completed_payment(partner_user_id=ME, seller=tea, reference="TEA-88", amount=125000)
    factories.PaymentFactory(order=factories.OrderFactory(seller=tea, partner_user_id=ME, reference="TEA-91"),
                             status="pending")
    factories.PaymentFactory(order=factories.OrderFactory(seller=lotus, partner_user_id=ME, reference="LOT-1001"),
                             status="expired", created_at=timezone.now() - timedelta(days=3))
    factories.PaymentFactory(order=factories.OrderFactory(seller=lotus, partner_user_id="other@example.com",
                                                          reference="NOT-MINE"))
    return paid



@pytest.mark.parametrize("width", [375, 1280])
def test_my_payments_in_a_browser(browser, live_server, partner_sandbox, history, width):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(f"{live_server.url}/me/payments/?partner_token=sandbox-user-token")
    assert page.url == f"{live_server.url}/me/payments/"   # the token left the address bar
    assert page.get_by_role("heading", name="My payments").is_visible()
    items = page.locator(".partner-payment")
    assert items.count() == 4
    text = page.locator("main").inner_text()
    assert "NOT-MINE" not in text and "Refund requested" in text
    for status in ("Completed", "Pending", "Expired"):
        assert status in text
    # Nothing overflows sideways on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(SCREENSHOTS / f"partner-my-payments-{width}.png"), full_page=True)

    page.get_by_role("link", name="Lotus Prints").first.click()
    page.wait_for_url(f"**/me/orders/{history.order_id}/")
    assert "BlueDart" in page.locator("main").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(SCREENSHOTS / f"partner-order-activity-{width}.png"), full_page=True)
    page.close()


def test_without_a_token_the_page_explains_how_to_get_in(browser, live_server, partner_sandbox):
    page = browser.new_page(viewport={"width": 375, "height": 700})
    page.goto(f"{live_server.url}/me/payments/?partner_token=sandbox-expired-token")
    assert "Open this page from the app" in page.locator("main").inner_text()
    assert "couldn't confirm your sign-in" in page.locator("main").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "partner-signin-required-375.png"), full_page=True)
    page.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_seller_refund_requests_page(browser, live_server, history, width, monkeypatch):
    from django.test import Client

    from tests.api.fakes import FakeProvider

    # A Nano refund waits for the seller's own send; the fake node knows the shopper's account.
    use_provider(monkeypatch, lambda method: FakeProvider())

    user = factories.MembershipFactory(seller=history.seller).user
    user.save()
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    context = browser.new_context(viewport={"width": width, "height": 800})
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    page = context.new_page()
    page.goto(f"{live_server.url}/dashboard/refund-requests/")
    assert "The frame arrived cracked" in page.locator("main").inner_text()
    page.screenshot(path=str(SCREENSHOTS / f"partner-dashboard-refund-requests-{width}.png"), full_page=True)
    page.get_by_role("link", name="Approve refund").click()
    page.wait_for_selector("text=Refund ₹499.00 of ₹499.00 to the shopper?")  # asks with the amount first
    page.get_by_role("button", name="Yes, refund ₹499.00").click()
    page.wait_for_load_state()
    text = page.locator("main").inner_text()
    assert "Approved: now send ₹499.00 back from your Nano wallet" in text and "Waiting for the seller to send" in text
    context.close()


def test_shopper_asks_for_a_refund_in_the_browser(browser, live_server, partner_sandbox, history):
    from payments.models import RefundRequest

    page = browser.new_page(viewport={"width": 375, "height": 900})
    page.goto(f"{live_server.url}/me/payments/?partner_token=sandbox-user-token")
    page.get_by_role("link", name="Darjeeling Tea Company of Kolkata").nth(1).click()   # TEA-88, completed
    page.get_by_text("Ask for a refund").click()
    page.get_by_label("Why do you want a refund? (optional)").fill("Ordered the wrong blend")
    page.screenshot(path=str(SCREENSHOTS / "partner-refund-form-375.png"), full_page=True)
    page.get_by_role("button", name="Send refund request").click()
    page.wait_for_load_state()
    assert "Your refund request was sent to Darjeeling Tea Company of Kolkata" in page.locator("main").inner_text()
    assert RefundRequest.objects.filter(reason="Ordered the wrong blend", status="requested").exists()
    page.close()

"""Our pages run under a strict CSP (no inline scripts or styles): a real browser reports
no violation and no script error on any shopper or dashboard page."""
import pytest

from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct-horse-battery"


@pytest.fixture
def shop():
    seller = factories.SellerFactory(name="Lotus Prints", slug="lotus", enabled_methods=["nano"])
    factories.PayoutDestinationFactory(seller=seller)
    factories.ProductFactory(seller=seller, name="A3 print")
    order = factories.OrderFactory(seller=seller)
    user = factories.MembershipFactory(seller=seller, user__username="lotus-owner").user
    return seller, order, user


def test_no_csp_violations_on_shopper_and_dashboard_pages(browser, live_server, shop):
    seller, order, user = shop
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = []
    page.on("console", lambda msg: msg.type in ("error", "warning") and "Content Security Policy" in msg.text
            and problems.append(msg.text))
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    page.goto(f"{live_server.url}/s/{seller.slug}/")
    page.goto(f"{live_server.url}/checkout/{order.checkout_token}/")
    page.get_by_role("button", name="Nano").first.click()
    page.wait_for_url("**/pay/nano/")
    page.wait_for_timeout(300)  # the countdown and htmx start
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url("**/dashboard/")
    for path in ("/dashboard/", "/dashboard/orders/", "/dashboard/payments/", "/dashboard/products/",
                 "/dashboard/settings/", "/dashboard/developers/"):
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
    page.close()
    assert problems == []

"""Our pages run under a strict CSP (no inline scripts or styles): a real browser reports
no violation and no script error on any shopper or dashboard page."""
import http.server
import json
import re
import threading
from urllib.parse import parse_qs

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


class _StandInRazorpay(http.server.BaseHTTPRequestHandler):
    """Razorpay as production points at it: the orders API and the hosted checkout, on another origin."""

    posted: list = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path == "/v1/orders":
            answer, kind = json.dumps({"id": "order_StandIn0000001", "entity": "order", "status": "created"}), \
                "application/json"
        else:
            self.posted.append((self.path, parse_qs(body.decode())))
            answer, kind = "<!doctype html><title>Stand-in checkout</title><h1>Stand-in checkout</h1>", "text/html"
        data = answer.encode()
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def stand_in_razorpay(settings):
    """Production settings (no sandbox) with Razorpay's URLs at a local stand-in on `localhost`,
    another origin than the live server's 127.0.0.1."""
    from payments.providers.registry import reset_providers

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StandInRazorpay)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://localhost:{server.server_port}"
    settings.DEBUG, settings.SANDBOX_MODE = False, False
    settings.SANDBOX_URL = "http://127.0.0.1:9"  # wherever a sandbox would be, it is not part of the policy
    settings.RAZORPAY_API_URL = origin
    settings.RAZORPAY_CHECKOUT_URL = f"{origin}/v1/checkout/embedded"
    settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET = "rzp_live_standin", "standin_secret"
    _StandInRazorpay.posted.clear()
    reset_providers()
    yield origin
    reset_providers()
    server.shutdown()


def test_the_pay_form_reaches_the_configured_razorpay_checkout_in_production(browser, live_server,
                                                                            stand_in_razorpay):
    """form-action used to name only SANDBOX_URL, so Chromium blocked the real checkout's Pay button."""
    seller = factories.SellerFactory(enabled_methods=["razorpay"])
    order = factories.OrderFactory(seller=seller, amount=49900, currency="INR")
    page = browser.new_page()
    blocked = []
    page.on("console", lambda msg: "Content Security Policy" in msg.text and blocked.append(msg.text))
    page.goto(f"{live_server.url}/checkout/{order.checkout_token}/")
    page.get_by_role("button", name="Razorpay").click()
    page.wait_for_url(re.compile(r"/pay/razorpay/$"))
    pay_page = page.url
    page.get_by_test_id("razorpay-pay").click(no_wait_after=True)  # a blocked submit never navigates
    page.wait_for_timeout(1500)
    assert blocked == [] and page.url == f"{stand_in_razorpay}/v1/checkout/embedded"
    assert page.get_by_role("heading", name="Stand-in checkout").is_visible()
    assert [path for path, _ in _StandInRazorpay.posted] == ["/v1/checkout/embedded"]
    assert _StandInRazorpay.posted[0][1]["order_id"] == ["order_StandIn0000001"]
    policy = page.context.request.get(pay_page).headers["content-security-policy"]
    assert f"form-action 'self' {stand_in_razorpay};" in policy and "127.0.0.1:9" not in policy
    page.close()


@pytest.mark.parametrize("sandbox_mode,expected", [
    (False, "form-action 'self' https://api.razorpay.com;"),
    (True, "form-action 'self' https://api.razorpay.com http://127.0.0.1:7076;"),
])
def test_form_action_names_the_configured_gateway_and_the_sandbox_only_in_sandbox_mode(settings, sandbox_mode,
                                                                                       expected):
    from config.middleware import content_security_policy

    settings.SANDBOX_MODE, settings.SANDBOX_URL = sandbox_mode, "http://127.0.0.1:7076"
    settings.RAZORPAY_CHECKOUT_URL = "https://api.razorpay.com/v1/checkout/embedded"
    assert expected in content_security_policy()

"""Razorpay hosted checkout in a real browser against the sandbox process.

checkout → "Razorpay" → pay page → hosted checkout (sandbox) → "Pay" → the sandbox POSTs
the signed handler fields to our callback → verified server-side → done page, paid.
Screenshots at 375 px and 1280 px go to var/artifacts/screenshots/.
"""
import re

import pytest

from payments.models import LedgerEntry, Payment
from tests import factories
from tests.conftest import SCREENSHOTS
from tests.integration.conftest import gateway_sandbox, wait_for  # noqa: F401 - gateway_sandbox is a fixture

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("gateway_sandbox")]



def order_for(**seller_kwargs):
    seller = factories.SellerFactory(name="Lotus Prints", enabled_methods=["razorpay"], **seller_kwargs)
    return factories.OrderFactory(seller=seller, amount=49900, currency="INR", reference="A-1001")


def open_pay_page(page, live_server, order):
    page.goto(f"{live_server.url}/checkout/{order.checkout_token}/")
    page.get_by_role("button", name="Razorpay").click()
    page.wait_for_url(re.compile(r"/pay/razorpay/$"))


@pytest.mark.parametrize("width", [375, 1280])
def test_pay_button_to_done_page_paid(browser, live_server, width):
    order = order_for()
    page = browser.new_page(viewport={"width": width, "height": 900})
    open_pay_page(page, live_server, order)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"razorpay-pay-{width}.png"), full_page=True)

    page.get_by_test_id("razorpay-pay").click()
    page.wait_for_url(re.compile(r"/razorpay/checkout"))
    assert "499.00 INR" in page.content()
    page.screenshot(path=str(SCREENSHOTS / f"razorpay-sandbox-checkout-{width}.png"), full_page=True)
    page.get_by_role("button", name="Pay", exact=True).click()

    page.wait_for_url(re.compile(rf"/checkout/{order.checkout_token}/done/$"))
    assert page.get_by_role("heading", name="Payment received").is_visible()
    page.screenshot(path=str(SCREENSHOTS / f"razorpay-done-{width}.png"), full_page=True)
    payment = Payment.objects.get(order=order)
    assert payment.status == "completed" and payment.tx_id.startswith("pay_")
    assert LedgerEntry.objects.filter(payment=payment).count() == 1
    page.close()


def test_fail_button_then_pay_again_on_the_same_payment(browser, live_server):
    """A declined attempt sends the shopper back to the pay page; the next attempt pays."""
    order = order_for()
    page = browser.new_page(viewport={"width": 375, "height": 800})
    open_pay_page(page, live_server, order)
    page.get_by_test_id("razorpay-pay").click()
    page.wait_for_url(re.compile(r"/razorpay/checkout"))
    page.get_by_role("button", name="Fail").click()
    page.wait_for_url(re.compile(r"/pay/razorpay/$"))
    assert "did not go through" in page.content()
    # The signed payment.failed webhook records the attempt; the payment stays open.
    wait_for(lambda: Payment.objects.get(order=order).events.filter(type="payment.attempt_failed").exists(),
             message="payment.failed webhook")
    assert Payment.objects.get(order=order).status == "pending"

    page.get_by_test_id("razorpay-pay").click()
    page.wait_for_url(re.compile(r"/razorpay/checkout"))
    page.get_by_role("button", name="Pay", exact=True).click()
    page.wait_for_url(re.compile(rf"/checkout/{order.checkout_token}/done/$"))
    assert page.get_by_role("heading", name="Payment received").is_visible()
    payment = Payment.objects.get(order=order)
    assert payment.status == "completed" and payment.exceptions == []
    page.close()


def test_coinpay_hosted_page_pay_then_back_to_done(browser, live_server):
    seller = factories.SellerFactory(name="Nordic Knits", enabled_methods=["coinpay"])
    order = factories.OrderFactory(seller=seller, amount=4_500, currency="USD", reference="NK-7")
    page = browser.new_page(viewport={"width": 375, "height": 900})
    page.goto(f"{live_server.url}/checkout/{order.checkout_token}/")
    page.get_by_role("button", name="CoinPay").click()
    page.wait_for_url(re.compile(r"/pay/coinpay/$"))
    assert "45.00 USD" in page.get_by_test_id("coinpay-amount").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "coinpay-pay-375.png"), full_page=True)
    page.get_by_test_id("coinpay-hosted").click()
    page.get_by_role("button", name="Pay", exact=True).click()
    wait_for(lambda: Payment.objects.get(order=order).status == "completed", message="transaction.completed")
    page.goto(f"{live_server.url}/checkout/{order.checkout_token}/pay/coinpay/")
    page.wait_for_url(re.compile(r"/done/$"))
    assert page.get_by_role("heading", name="Payment received").is_visible()
    page.close()

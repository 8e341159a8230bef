"""The shopper's pay page in a real browser (Debian Chromium through Playwright).

storefront → Buy → checkout → Nano → pay page (amount, QR, ticking countdown) → done.
Screenshots at 375 px and 1280 px go to var/artifacts/screenshots/ for a human to look at.
"""
import re

import pytest

from tests import factories
from tests.conftest import SCREENSHOTS
from tests.integration.conftest import nano_listener  # noqa: F401 - the node websocket follower as a process

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]



@pytest.fixture
def nano_provider():
    from payments.providers import registry

    registry.reset_providers()
    yield registry.get_provider("nano")
    registry.reset_providers()


@pytest.fixture
def shop(nano_provider):
    seller = factories.SellerFactory(name="Lotus Prints", slug="lotus", enabled_methods=["nano", "razorpay"],
                                     support_email="help@lotus.example")
    factories.PayoutDestinationFactory(seller=seller)
    factories.ProductFactory(seller=seller, name="Lotus pond, A3 art print", unit_amount=49900,
                             description="Giclée print on 300 gsm cotton paper.")
    factories.ProductFactory(seller=seller, name="Monsoon postcard set (12)", unit_amount=19900)
    factories.ProductFactory(seller=seller, name="Framed original, 60×90 cm", unit_amount=1250000)
    return seller


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"shop-{name}.png"), full_page=True)


def go_to_pay_page(page, live_server, shop):
    page.goto(f"{live_server.url}/s/{shop.slug}/")
    page.get_by_role("button", name="Buy Lotus pond, A3 art print").click()
    page.wait_for_url(re.compile(r"/checkout/[^/]+/$"))
    page.get_by_role("button", name="Nano (XNO)").click()
    page.wait_for_url(re.compile(r"/checkout/[^/]+/pay/nano/$"))


@pytest.mark.parametrize("width", [375, 1280])
def test_pay_page_shows_amount_qr_and_ticking_countdown_then_reaches_done(browser, live_server, shop, width):
    from payments.models import Payment
    from payments.providers.base import Observation
    from payments.services import observation_apply

    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(f"{live_server.url}/s/{shop.slug}/")
    shot(page, f"storefront-{width}")
    page.get_by_role("button", name="Buy Lotus pond, A3 art print").click()
    page.wait_for_url(re.compile(r"/checkout/[^/]+/$"))
    shot(page, f"checkout-{width}")
    page.get_by_role("button", name="Nano (XNO)").click()
    page.wait_for_url(re.compile(r"/checkout/[^/]+/pay/nano/$"))

    payment = Payment.objects.get(order__seller=shop)
    countdown = page.locator("[data-countdown]")
    first = countdown.inner_text()
    page.wait_for_timeout(1500)
    assert re.fullmatch(r"\d\d:\d\d", first)
    assert countdown.inner_text() != first, "the countdown should tick"
    assert page.get_by_test_id("amount").inner_text().startswith("Ӿ")
    assert page.get_by_test_id("pay-to").inner_text() == payment.pay_to
    assert page.locator(".qr svg").is_visible()
    assert page.locator("a.qr").get_attribute("href") == payment.payment_uri
    assert page.get_by_role("button", name="Copy").first.is_visible(), "JS un-hides the copy buttons"
    shot(page, f"pay-{width}")

    # The money arrives (as the monitor would report it): the htmx status poll moves the page to done.
    raw = payment.amount_due * 10**24
    observation_apply(observation=Observation(provider="nano", external_tx_id="D" * 64, amount=raw, confirmed=True,
                                              pay_to=payment.pay_to))
    page.wait_for_url(re.compile(r"/done/$"), timeout=10_000)
    assert page.get_by_role("heading", name="Payment received").is_visible()
    shot(page, f"done-{width}")


def test_pay_page_without_javascript_still_shows_everything(browser, live_server, shop):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 375, "height": 900})
    page = context.new_page()
    go_to_pay_page(page, live_server, shop)

    assert page.get_by_test_id("amount").is_visible()
    assert page.locator(".qr svg").is_visible()
    assert re.fullmatch(r"\d\d:\d\d", page.locator("[data-countdown]").inner_text())
    assert page.locator('noscript').count() >= 1
    context.close()


def test_expired_payment_try_again_starts_a_fresh_one(browser, live_server, shop):
    from datetime import timedelta

    from django.utils import timezone

    from payments.models import Payment
    from payments.services import payment_expire_stale

    page = browser.new_page(viewport={"width": 375, "height": 900})
    go_to_pay_page(page, live_server, shop)
    first = Payment.objects.get(order__seller=shop)
    Payment.objects.filter(pk=first.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    payment_expire_stale()

    page.wait_for_url(re.compile(r"/done/$"), timeout=10_000)
    shot(page, "expired-375")
    page.get_by_role("button", name="Try again with Nano (XNO)").click()
    page.wait_for_url(re.compile(r"/pay/nano/$"))

    assert Payment.objects.filter(order=first.order, status="pending").exclude(pk=first.pk).count() == 1


def test_simulate_button_pays_through_the_sandbox(browser, live_server, shop, sandbox_process, settings):  # noqa: F811
    settings.SANDBOX_MODE = True
    page = browser.new_page(viewport={"width": 375, "height": 900})
    go_to_pay_page(page, live_server, shop)

    page.get_by_role("button", name="Simulate payment (sandbox)").click()

    page.wait_for_url(re.compile(r"/done/$"), timeout=15_000)
    assert page.get_by_role("heading", name="Payment received").is_visible()
    shot(page, "simulated-done-375")


def test_a_wallet_payment_reaches_done_through_the_node_websocket(browser, live_server, shop, nano_listener,  # noqa: F811
                                                                  settings):
    """No simulate button and no beat tick: the shopper's wallet sends, the node's websocket
    tells `nano_listen`, the monitor reads the address, and the page's status poll moves on."""
    from payments.models import Payment
    from payments.sandbox_client import simulate_payment
    from tests.integration.conftest import wait_for

    settings.SANDBOX_MODE = True
    listener = nano_listener()
    page = browser.new_page(viewport={"width": 375, "height": 900})
    go_to_pay_page(page, live_server, shop)
    payment = Payment.objects.get(order__seller=shop)
    wait_for(lambda: payment.pay_to in listener.watching, timeout=10, message="the subscription update")

    simulate_payment(payment)  # the wallet's send, as any wallet would make it

    page.wait_for_url(re.compile(r"/done/$"), timeout=15_000)
    assert page.get_by_role("heading", name="Payment received").is_visible()
    assert Payment.objects.get(pk=payment.pk).status == "completed"

"""Two-factor login in a real browser: a seller's user enrols an authenticator from the
dashboard settings, saves the recovery codes, then logs in again with a code."""
from base64 import b32decode

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests import factories
from tests.conftest import screenshot
from tests.two_factor import totp_code, totp_code_after_last_use

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"


def _log_in(page, base):
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "lotus-owner")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")


def test_seller_user_enrols_and_logs_in_with_a_code(live_server, browser):
    from playwright.sync_api import expect

    seller = factories.SellerFactory(name="Lotus Prints", slug="lotus")
    factories.MembershipFactory(seller=seller, user__username="lotus-owner").user.save()
    base = live_server.url
    errors = []

    first = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    first.on("pageerror", lambda exc: errors.append(str(exc)))
    first.on("console", lambda msg: msg.type == "error" and "Failed to load resource" not in msg.text
             and errors.append(msg.text))
    # Failed loads are tracked by URL; browsers ask for /favicon.ico on their own.
    first.on("response", lambda r: r.status >= 400 and not r.url.endswith("/favicon.ico")
             and errors.append(f"{r.status} {r.url}"))
    _log_in(first, base)
    expect(first).to_have_url(f"{base}/dashboard/")  # optional for sellers: a password is enough so far
    first.goto(f"{base}/dashboard/settings/")
    first.click("text=Set up an authenticator app")
    expect(first.locator(".qr svg")).to_be_visible()
    screenshot(first, "two-factor-enrol")
    secret = first.locator("#totp-secret").inner_text().strip()
    key = b32decode(secret).hex()
    first.fill("#id_code", totp_code(key))
    first.click("text=Turn on two-factor login")
    expect(first.locator("#recovery-codes li")).to_have_count(10)
    first.click("text=I saved them, continue")
    expect(first).to_have_url(f"{base}/dashboard/settings/")
    expect(first.locator("#two-factor-title + p")).to_contain_text("on")

    # A new browser: the password leads to the code step, and the app's code opens the dashboard.
    second = browser.new_context(viewport={"width": 375, "height": 800}).new_page()
    second.on("pageerror", lambda exc: errors.append(str(exc)))
    _log_in(second, base)
    expect(second.locator("h1")).to_have_text("Two-factor login")
    assert "/accounts/login/verify/" in second.url
    screenshot(second, "two-factor-login", widths=(375,))
    # The enrolment used up a step's code; the next step's code is accepted.
    device = TOTPDevice.objects.get(user__username="lotus-owner", confirmed=True)
    second.fill("#id_code", totp_code_after_last_use(device))
    second.click("button:has-text('Verify')")
    expect(second).to_have_url(f"{base}/dashboard/")
    assert errors == []

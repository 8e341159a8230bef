"""Test helpers for two-factor login: TOTP codes computed the way an authenticator app does."""
from __future__ import annotations

import time
from binascii import unhexlify

from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from sellers.two_factor import TOTP_DEVICE_NAME


def totp_code(device_or_hex_key) -> str:
    """The six-digit code an authenticator app shows now."""
    key = device_or_hex_key.key if isinstance(device_or_hex_key, TOTPDevice) else device_or_hex_key
    meter = TOTP(unhexlify(key), step=30, t0=0, digits=6)
    meter.time = time.time()
    return f"{meter.token():06d}"


def totp_code_after_last_use(device: TOTPDevice) -> str:
    """The code for the 30 s step after the device's last accepted one, for a second login soon
    after the first. A step's code is accepted once, and a code accepted one step off moves the
    device's drift by that step; the step after the last used one is always inside the window
    (now + drift ± 1) for the next minute, whichever side of a step boundary the first code fell."""
    device.refresh_from_db()
    meter = TOTP(unhexlify(device.key), step=30, t0=0, digits=6)
    meter.time = (device.last_t + 1) * 30
    return f"{meter.token():06d}"


def confirmed_device(user, **kwargs) -> TOTPDevice:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, name=TOTP_DEVICE_NAME, confirmed=True, **kwargs)


def verify_session(client, user) -> TOTPDevice:
    """Mark the client's (already logged-in) session as verified with the user's authenticator."""
    device = confirmed_device(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device


def staff_browser_log_in(page, base: str, device: TOTPDevice, *, username: str = "fin", next_path: str = "/admin/"):
    """Log a staff user in through the real pages: password, then the authenticator's current code."""
    page.goto(f"{base}/admin/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", "correct-horse-battery")
    page.click("input[type=submit]")
    page.fill("#id_code", totp_code(device))
    page.click("button[type=submit]:has-text('Verify')")

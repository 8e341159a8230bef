"""Two-factor login with django-otp: a TOTP authenticator app plus one-time recovery codes.

The password step (Django's LoginView, guarded by django-axes) logs the user in, but the
session is not *verified* until a second factor is given. TwoFactorMiddleware lets an
unverified session reach only the account pages: the code step when the user has a
device, enrolment when they must have one (staff always; a seller's members when the
seller requires it). Sellers' users without that requirement may enrol or not.
API keys never pass through here: the API authenticates by key, not by session.
"""
from __future__ import annotations

import logging
from base64 import b32encode
from binascii import unhexlify
from urllib.parse import urlencode

import segno
from django.conf import settings
from django.db import transaction
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from sellers.models import SellerMembership

log = logging.getLogger("kassa.auth")

RECOVERY_CODE_COUNT = 10
TOTP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"
# An unverified session may use these (log in, the code step, enrolment, log out); machine
# endpoints authenticate by key or signature, never by a session.
_OPEN_PREFIXES = ("/accounts/", "/static/", "/healthz", "/api/", "/webhooks/")


# --- selectors ---------------------------------------------------------------------------

def two_factor_required(user) -> bool:
    """Staff always; otherwise when any seller the user belongs to requires it."""
    if user.is_staff:
        return True

    return SellerMembership.objects.filter(user=user, seller__require_two_factor=True).exists()


def has_two_factor(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def totp_secret(device: TOTPDevice) -> str:
    """The base32 secret an authenticator app asks for when typed in by hand."""
    return b32encode(unhexlify(device.key)).decode()


def totp_qr_svg(device: TOTPDevice) -> str:
    return segno.make(device.config_url, error="m", micro=False).svg_inline(
        scale=4, border=2, omitsize=True, svgclass="qr-code", lineclass=None, title="Scan with an authenticator app")


def safe_next(request, default: str | None = None) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default or ("/admin/" if request.user.is_staff else settings.LOGIN_REDIRECT_URL)


# --- services ----------------------------------------------------------------------------

def totp_enrolment_start(*, user) -> TOTPDevice:
    """The user's pending (unconfirmed) authenticator, created on first visit; reloading the
    page shows the same secret, so a half-finished scan still works."""
    with transaction.atomic():
        device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    return device


def totp_enrolment_confirm(*, user, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm the pending authenticator with a current code; returns fresh recovery codes
    (shown once), or None when the code is wrong."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user, confirmed=False)
        if not device.verify_token(code.strip()):
            return None
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _recovery_codes_replace(user)
    log.info("two-factor enrolled", extra={"user_id": user.pk})
    return codes


def recovery_codes_regenerate(*, user) -> list[str]:
    """Replace every recovery code (the old ones stop working); returns the new ones, shown once."""
    with transaction.atomic():
        codes = _recovery_codes_replace(user)
    log.info("two-factor recovery codes replaced", extra={"user_id": user.pk})
    return codes


def _recovery_codes_replace(user) -> list[str]:
    device, _ = StaticDevice.objects.get_or_create(user=user, name=RECOVERY_DEVICE_NAME)
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def two_factor_disable(*, user) -> None:
    """Remove every device. Callers check first that the user is not required to have one."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
    log.info("two-factor turned off", extra={"user_id": user.pk})


def second_factor_check(*, user, code: str) -> Device | None:
    """The device that accepts `code`: six digits go to the authenticator, anything else to the
    recovery codes (each works once). Devices throttle their own failures."""
    code = "".join(code.split()).lower()
    devices = TOTPDevice.objects if code.isdigit() and len(code) == 6 else StaticDevice.objects
    with transaction.atomic():
        for device in devices.select_for_update().filter(user=user, confirmed=True):
            if device.verify_token(code):
                return device
    return None


# --- middleware --------------------------------------------------------------------------

class TwoFactorMiddleware:
    """An unverified session of a user who has (or must have) a second factor is sent to the
    code step or to enrolment, with ?next= back to where they were going."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated and not request.path.startswith(_OPEN_PREFIXES)
                and not user.is_verified()):
            if has_two_factor(user):
                return _redirect_with_next("login-verify", request)
            if two_factor_required(user):
                return _redirect_with_next("two-factor", request)
        return self.get_response(request)


def _redirect_with_next(name: str, request):
    return redirect(url_with_next(name, request.get_full_path() if request.method in ("GET", "HEAD") else ""))


def url_with_next(name: str, target: str) -> str:
    url = reverse(name)
    return f"{url}?{urlencode({'next': target})}" if target else url

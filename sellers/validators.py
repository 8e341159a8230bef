"""Validation of what sellers type in: payout destinations per method."""
import ipaddress
import re
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from core.nano_codec import InvalidAddress, address_to_public_key

RAZORPAY_ACCOUNT_RE = re.compile(r"^acc_[A-Za-z0-9]{14}$")
# CoinPay wallets are chain addresses or CoinPay wallet ids; keep it strict but chain-agnostic.
COINPAY_WALLET_RE = re.compile(r"^[A-Za-z0-9_:\-]{8,128}$")


def validate_payout_destination(method: str, value: str) -> None:
    if not value:
        raise ValidationError({"value": "Enter a destination."})
    if method == "nano":
        try:
            address_to_public_key(value)
        except InvalidAddress as exc:
            raise ValidationError({"value": f"Not a valid Nano address: {exc}"}) from None
    elif method == "razorpay":
        if not RAZORPAY_ACCOUNT_RE.match(value):
            raise ValidationError(
                {"value": "A Razorpay linked account id looks like acc_XXXXXXXXXXXXXX (14 characters)."})
    elif method == "coinpay":
        if not COINPAY_WALLET_RE.match(value):
            raise ValidationError({"value": "A CoinPay wallet is 8–128 letters, digits, '_', ':' or '-'."})
    else:
        raise ValidationError({"method": f"Unknown payment method “{method}”."})


def is_valid_payout_destination(method: str, value: str) -> bool:
    try:
        validate_payout_destination(method, value)
    except ValidationError:
        return False
    return True


def validate_webhook_url(url: str) -> None:
    """Refuse webhook URLs that would make us call into our own network (SSRF).

    Outside DEBUG, every address the host resolves to must be public (sandbox mode alone does not
    lift this: a production host with SANDBOX_MODE=true still must not call into its own network):
    not loopback, private, link-local, reserved, multicast or unspecified. Checked when
    an endpoint is saved and again before each delivery (DNS can change).
    """
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("Use an absolute http:// or https:// URL.")
    if settings.DEBUG or parts.hostname in settings.WEBHOOK_PRIVATE_HOSTS:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                                   type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        raise ValidationError(f"Could not resolve “{parts.hostname}”.") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if not address.is_global or address.is_multicast:
            raise ValidationError("Webhook URLs must point at a public address, not a private or local one.")

"""Validation of what sellers type in: payout destinations per method."""
import re

from django.core.exceptions import ValidationError

RAZORPAY_ACCOUNT_RE = re.compile(r"^acc_[A-Za-z0-9]{14}$")
# CoinPay wallets are chain addresses or CoinPay wallet ids; keep it strict but chain-agnostic.
COINPAY_WALLET_RE = re.compile(r"^[A-Za-z0-9_:\-]{8,128}$")


def validate_payout_destination(method: str, value: str) -> None:
    if not value:
        raise ValidationError({"value": "Enter a destination."})
    if method == "nano":
        from payments.providers.nano_codec import InvalidAddress, address_to_public_key

        try:
            address_to_public_key(value)
        except InvalidAddress as exc:
            raise ValidationError({"value": f"Not a valid Nano address: {exc}"}) from None
    elif method == "razorpay":
        if not RAZORPAY_ACCOUNT_RE.match(value):
            raise ValidationError({"value": "A Razorpay linked account id looks like acc_XXXXXXXXXXXXXX (14 characters)."})
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

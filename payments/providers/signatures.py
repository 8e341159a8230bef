"""HMAC helpers shared by the gateway providers and their sandbox twins.

Razorpay and CoinPay both sign with hex HMAC-SHA256; comparisons are constant
time (hmac.compare_digest) so a forger learns nothing from response timing.

Shared with the sandbox's gateway twins, which may import from the product only this
module and providers/nano_codec.py: keep it standard library only.
"""
from __future__ import annotations

import hashlib
import hmac


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def hmac_sha256_hex(secret: str | bytes, message: str | bytes) -> str:
    return hmac.new(_bytes(secret), _bytes(message), hashlib.sha256).hexdigest()


def hmac_matches(secret: str | bytes, message: str | bytes, signature: str | bytes | None) -> bool:
    """True when `signature` is the hex HMAC-SHA256 of `message`. Empty secret never matches.

    A value that is not ASCII is simply wrong. It is rejected before the comparison, which
    runs on bytes: compare_digest raises TypeError for a non-ASCII str (a forged header
    would answer 500)."""
    if not secret or not signature:
        return False
    given = signature if isinstance(signature, bytes) else str(signature).encode("utf-8", "surrogatepass")
    if not given.isascii():
        return False
    expected = hmac_sha256_hex(secret, message).encode("ascii")
    return hmac.compare_digest(expected, given.strip().lower())


def razorpay_payment_signature(order_id: str, payment_id: str, key_secret: str) -> str:
    """Checkout handler signature: HMAC-SHA256(order_id + "|" + payment_id, key_secret)."""
    return hmac_sha256_hex(key_secret, f"{order_id}|{payment_id}")


def razorpay_payment_signature_valid(order_id: str, payment_id: str, signature: str, key_secret: str) -> bool:
    return bool(order_id and payment_id) and hmac_matches(key_secret, f"{order_id}|{payment_id}", signature)


def body_digest(body: bytes) -> str:
    """A stable id for a body that carries no event id of its own (de-duplication fallback)."""
    return "sha256:" + hashlib.sha256(body).hexdigest()

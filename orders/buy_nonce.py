"""The storefront Buy form's one-time nonce: a double submit of one rendered form makes one order.

Kept in the cache (Redis in production, shared by every web process). While Redis is unreachable
the same claims are made in the database (`BuyNonce`), so a Redis outage never costs a sale and
still dedupes. Keys are (nonce, product, quantity); values are the order's checkout token, "" while
the first submit is still creating it.
"""
from __future__ import annotations

import hashlib
from datetime import timedelta

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.redis import REDIS_ERRORS, redis_failed, redis_skipped
from orders.models import BuyNonce

TTL_SECONDS = 60 * 60  # a storefront left open for an hour still dedupes its Buy


def _db_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _use_cache() -> bool:
    return not redis_skipped()


def buy_nonce_claim(*, key: str) -> bool:
    """Claim `key` for this submit; False when an earlier submit of the same form holds it."""
    if _use_cache():
        try:
            return cache.add(key, "", TTL_SECONDS)
        except REDIS_ERRORS as exc:
            redis_failed("buy nonce", exc)
    buy_nonce_purge()
    try:
        with transaction.atomic():
            BuyNonce.objects.create(key=_db_key(key))
    except IntegrityError:
        return False
    return True


def buy_nonce_purge() -> int:
    """Delete database claims past their TTL (each claim during an outage also does, and beat
    runs this hourly, so rows left by the last outage do not stay). Returns how many went."""
    deleted, _ = BuyNonce.objects.filter(created_at__lt=timezone.now() - timedelta(seconds=TTL_SECONDS)).delete()
    return deleted


def buy_nonce_token(*, key: str) -> str | None:
    """The checkout token the claiming submit recorded: "" while it is in flight, None if unknown."""
    if _use_cache():
        try:
            token = cache.get(key)
        except REDIS_ERRORS as exc:
            redis_failed("buy nonce", exc)
        else:
            if token is not None:
                return token
    # Also where a claim made before Redis came back is found.
    return BuyNonce.objects.filter(key=_db_key(key)).values_list("checkout_token", flat=True).first()


def buy_nonce_bind(*, key: str, checkout_token: str) -> None:
    """Record the order the claiming submit created."""
    if _use_cache():
        try:
            cache.set(key, checkout_token, TTL_SECONDS)
            return
        except REDIS_ERRORS as exc:
            redis_failed("buy nonce", exc)
    BuyNonce.objects.update_or_create(key=_db_key(key), defaults={"checkout_token": checkout_token})


def buy_nonce_release(*, key: str) -> None:
    """Give the key up (the order was refused), so a corrected resubmit can try again."""
    if _use_cache():
        try:
            cache.delete(key)
        except REDIS_ERRORS as exc:
            redis_failed("buy nonce", exc)
    BuyNonce.objects.filter(key=_db_key(key)).delete()

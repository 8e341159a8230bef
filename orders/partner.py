"""Server-to-server verification of a partner super-app user token (issue 8).

The super-app's SDK hands the checkout page a user token. We never trust it as it
arrives: we send it to the partner's verify endpoint in the `miniapp-user-token`
header (with our key in `x-api-key`) and accept it only when the JSON answer has
`success: true` and a non-empty `data.id` (the partner's documented "Verify User Token" answer).

Results are cached for PARTNER_VERIFY_CACHE_SECONDS by the token's SHA-256, never
by the token itself, only to avoid asking the partner twice for one token; a cache
that fails is skipped, not fatal. The token is never logged. Timeouts, 5xx, and answers that
are not JSON raise PartnerUnavailable, which callers show as "pay as a guest".
"""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

import requests
from django.conf import settings
from django.core.cache import cache

from config import json_input
from config.redis import redis_failed

log = logging.getLogger("kassa.partner")

API_KEY_HEADER = "x-api-key"
TOKEN_HEADER = "miniapp-user-token"
DEFAULT_TIMEOUT = 3.0            # seconds; a shopper is waiting on this call
DEFAULT_CACHE_SECONDS = 60       # a re-presented token is asked again after this
DEFAULT_SESSION_SECONDS = 1800   # a signed-in shopper's session, sliding with activity
MAX_TOKEN_LENGTH = 4096
MAX_USER_ID_LENGTH = 254         # Order.partner_user_id


class PartnerError(Exception):
    """Base of partner sign-in errors; `user_message` is safe to show a shopper."""

    user_message = "We couldn't confirm your sign-in from the app. You can still pay as a guest."


class PartnerUnavailable(PartnerError):
    """The verify endpoint timed out, failed (5xx) or answered something that is not JSON."""

    user_message = ("The app's sign-in service isn't answering right now, so we couldn't confirm who you are. "
                    "You can still pay as a guest.")


def partner_enabled() -> bool:
    return bool(settings.PARTNER_VERIFY_URL)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def cache_seconds() -> int:
    return int(getattr(settings, "PARTNER_VERIFY_CACHE_SECONDS", DEFAULT_CACHE_SECONDS))


def session_seconds() -> int:
    return int(getattr(settings, "PARTNER_SESSION_SECONDS", DEFAULT_SESSION_SECONDS))


def _cache_key(digest: str) -> str:
    return f"partner:verify:{digest}"


@dataclass(frozen=True)
class Verification:
    """The partner's answer for one token: `user_id` is "" when the token was refused."""

    user_id: str
    token_hash: str

    @property
    def ok(self) -> bool:
        return bool(self.user_id)


def _fresh_entry(digest: str) -> dict | None:
    """The cached answer, if younger than the TTL by our own clock as well as the cache's."""
    try:
        entry = cache.get(_cache_key(digest))
    except Exception as exc:  # the cache only saves a partner call; never fail a sign-in for it
        redis_failed("partner verify cache", exc)
        return None
    if not isinstance(entry, dict) or time.time() - entry.get("at", 0) > cache_seconds():
        return None
    return entry


def _well_formed(token: str) -> bool:
    # Header values must be printable ASCII; anything else cannot be a partner token.
    return 0 < len(token) <= MAX_TOKEN_LENGTH and token.isascii() and token.isprintable()


class PartnerClient:
    def __init__(self, *, url: str | None = None, api_key: str | None = None, timeout: float | None = None,
                 session: requests.Session | None = None) -> None:
        self.url = url if url is not None else settings.PARTNER_VERIFY_URL
        self.api_key = api_key if api_key is not None else settings.PARTNER_API_KEY
        self.timeout = timeout if timeout is not None else float(
            getattr(settings, "PARTNER_VERIFY_TIMEOUT", DEFAULT_TIMEOUT))
        self.session = session or requests

    def verify(self, token: str) -> Verification:
        """Verify `token` (cached by hash). Raises PartnerUnavailable; never logs the token."""
        digest = token_hash(token)
        if not _well_formed(token):
            return Verification("", digest)
        entry = _fresh_entry(digest)
        if entry is not None:
            return Verification(entry.get("id", ""), digest)
        user_id = self._ask_partner(token, digest)
        # Refusals are cached too, so a bad token cannot make us hammer the partner.
        try:
            cache.set(_cache_key(digest), {"id": user_id, "at": time.time()}, cache_seconds())
        except Exception as exc:
            redis_failed("partner verify cache", exc)
        return Verification(user_id, digest)

    def _ask_partner(self, token: str, digest: str) -> str:
        headers = {TOKEN_HEADER: token, "Accept": "application/json"}
        if self.api_key:
            headers[API_KEY_HEADER] = self.api_key
        short = digest[:12]  # enough to correlate log lines, useless to an attacker
        try:
            response = self.session.get(self.url, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            log.warning("partner verify unreachable", extra={"token_sha": short, "error": exc.__class__.__name__})
            raise PartnerUnavailable(f"partner verify failed: {exc.__class__.__name__}") from None
        if response.status_code >= 500:
            log.warning("partner verify error", extra={"token_sha": short, "status": response.status_code})
            raise PartnerUnavailable(f"partner verify answered {response.status_code}")
        try:
            body = json_input.loads(response.content)
        except ValueError:
            log.warning("partner verify bad json", extra={"token_sha": short, "status": response.status_code})
            raise PartnerUnavailable("partner verify answered something that is not JSON") from None
        user_id = _accepted_user_id(body)
        log.info("partner verify", extra={"token_sha": short, "status": response.status_code,
                                           "accepted": bool(user_id)})
        return user_id


def _accepted_user_id(body) -> str:
    """data.id when success is exactly True and data.id is a non-empty string, else ""."""
    if not isinstance(body, dict) or body.get("success") is not True:
        return ""
    data = body.get("data")
    user_id = data.get("id") if isinstance(data, dict) else None
    if not isinstance(user_id, str) or not user_id.strip() or len(user_id) > MAX_USER_ID_LENGTH:
        return ""
    return user_id.strip()

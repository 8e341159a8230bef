"""REST API authentication: `Authorization: Bearer sk_test_…` keys.

Keys are looked up by their unique prefix and checked against the stored SHA-256
in constant time. A revoked key gets 401.
"""
from __future__ import annotations

import hmac
import time

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling

from config.redis import REDIS_ERRORS, redis_client, redis_failed, redis_skipped
from sellers.selectors import api_key_lookup
from sellers.services import API_KEY_PREFIX_LEN, hash_api_key


class ApiKeyUser:
    """The authenticated principal of an API request: a key acting for one seller."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_active = True

    def __init__(self, api_key):
        self.api_key = api_key
        self.seller = api_key.seller
        self.pk = None

    def __str__(self) -> str:
        return f"api-key:{self.api_key.prefix}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key.startswith(("sk_test_", "sk_live_")):
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer sk_test_…' with a Kassa API key.")
        api_key = api_key_lookup(key[:API_KEY_PREFIX_LEN])
        if api_key is None or not hmac.compare_digest(api_key.key_hash, hash_api_key(key)):
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if not api_key.is_active:
            raise exceptions.AuthenticationFailed("This API key was revoked.")
        now = timezone.now()
        if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
            type(api_key).objects.filter(pk=api_key.pk).update(last_used_at=now)  # at most once a minute
        request.seller = api_key.seller
        # The Django request too: its lazy `seller` (sellers.middleware) only knows session users.
        request._request.seller = api_key.seller
        return ApiKeyUser(api_key), api_key

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class HasSellerApiKey(permissions.BasePermission):
    def has_permission(self, request, view):
        return isinstance(getattr(request, "user", None), ApiKeyUser)


class ApiKeyRateThrottle(throttling.SimpleRateThrottle):
    """Per-key throttle backed by the cache (Redis in production): a sliding-window counter.

    DRF's SimpleRateThrottle keeps every request's timestamp in one cache entry, read and
    rewritten whole on each request: at 600/min that is a 600-element list per call, and
    two concurrent requests overwrite each other's count. Here each window is one
    counter, incremented atomically; the previous window's count is weighted by how
    much of it still overlaps the last `duration` seconds (the estimate Cloudflare and
    others use). Every request counts, refused ones included, so a client that retries
    without backing off stays throttled.
    """

    scope = "api_key"

    def get_cache_key(self, request, view):
        user = getattr(request, "user", None)
        if isinstance(user, ApiKeyUser):
            return self.cache_format % {"scope": self.scope, "ident": user.api_key.prefix}
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self.wait_seconds = sliding_window_hit(key, self.num_requests, self.duration, self.timer())
        return self.wait_seconds is None

    def wait(self):
        return getattr(self, "wait_seconds", None)


def sliding_window_hit(key: str, limit: int, duration: int, now: float) -> float | None:
    """Count one hit for `key`: None while within `limit` per `duration` seconds, else the seconds
    to wait. The previous window's count is weighted by how much of it still overlaps."""
    window, into = divmod(now, duration)
    current, previous = window_counts(key, int(window), duration)
    weight = 1 - into / duration
    if previous * weight + current <= limit:
        return None
    if current > limit or not previous:
        return duration - into  # only the next window helps
    needed = 1 - (limit - current) / previous  # until the previous window's weight has decayed enough
    return max(0.0, (needed - into / duration) * duration)


def rate_exceeded(scope: str, ident: str, rate: str) -> float | None:
    """One hit against `rate` ("60/min", DRF's format) for (scope, ident): seconds to wait, or None."""
    limit, duration = throttling.SimpleRateThrottle.parse_rate(None, rate)
    return sliding_window_hit(f"throttle_{scope}_{ident}", limit, duration, time.time())


def window_counts(key: str, window: int, duration: int) -> tuple[int, int]:
    """Count one hit in `window` and return (this window's hits, the previous window's).

    Fails open: with Redis unreachable it counts nothing and returns (0, 0), with a logged warning,
    so a Redis outage never refuses a request (nor costs a sale)."""
    current_key, previous_key = f"{key}:{window}", f"{key}:{window - 1}"
    if settings.REDIS_URL:  # one round trip on the process's own client
        if redis_skipped():
            return 0, 0
        try:
            pipe = redis_client().pipeline(transaction=False)
            current, _, previous = pipe.incr(current_key).expire(current_key, 2 * duration).get(previous_key).execute()
        except REDIS_ERRORS as exc:
            redis_failed("throttle", exc)
            return 0, 0
        return int(current), int(previous or 0)
    cache.add(current_key, 0, timeout=2 * duration)
    return cache.incr(current_key), cache.get(previous_key, 0)


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Declares `Authorization: Bearer sk_test_…` in the OpenAPI schema (drf-spectacular)."""

    target_class = "sellers.api_auth.ApiKeyAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "sk_test_… / sk_live_…",
                "description": "A seller's secret API key from the dashboard's Developers page."}

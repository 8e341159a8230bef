"""REST API authentication: `Authorization: Bearer sk_test_…` keys.

Keys are looked up by their unique prefix and checked against the stored SHA-256
in constant time. A revoked key gets 401.
"""
from __future__ import annotations

import hmac

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling

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
    """Per-key throttle backed by the default cache (Redis in production)."""

    scope = "api_key"

    def get_cache_key(self, request, view):
        user = getattr(request, "user", None)
        if isinstance(user, ApiKeyUser):
            return self.cache_format % {"scope": self.scope, "ident": user.api_key.prefix}
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Declares `Authorization: Bearer sk_test_…` in the OpenAPI schema (drf-spectacular)."""

    target_class = "sellers.api_auth.ApiKeyAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "sk_test_… / sk_live_…",
                "description": "A seller's secret API key from the dashboard's Developers page."}

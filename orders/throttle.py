"""Per-client throttle for anonymous checkout starts (Buy, Pay), on the API's cache counter.

A bot that creates orders and starts Nano payments as fast as it can would otherwise fill an
address's unique-amount slots and lock real shoppers out. Each client is counted twice: by its
address and, when it has one, by its session, against each tier of SHOP_THROTTLE_RATE (a minute
tier stops bursts, an hour tier a steady trickle that would still fill slots held for hours);
any one over its limit refuses the request.
"""
from __future__ import annotations

import functools

from django.conf import settings
from django.shortcuts import render

from sellers.api_auth import ApiKeyRateThrottle


class ShopperThrottle(ApiKeyRateThrottle):
    """The API's sliding-window counter (one atomic INCR per hit), keyed by a shopper identity."""

    scope = "shop"

    def __init__(self, ident: str, rate: str) -> None:
        self.ident, self.shop_rate = ident, rate
        super().__init__()

    def get_rate(self):
        return self.shop_rate

    def get_cache_key(self, request, view):
        # Each tier counts on its own key: "30/min" and "100/hour" must not share a window.
        return self.cache_format % {"scope": f"{self.scope}{self.duration}", "ident": self.ident}


def _identities(request) -> list[str]:
    # REMOTE_ADDR, not X-Forwarded-For: a client-chosen header would buy a fresh allowance per request.
    identities = [f"ip:{request.META.get('REMOTE_ADDR', '')}"]
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        identities.append(f"session:{session_key}")
    return identities


def shopper_wait(request) -> float | None:
    """None when this client may start another checkout, else the seconds until it may."""
    waits = []
    rates = [rate.strip() for rate in (settings.SHOP_THROTTLE_RATE or "").split(",") if rate.strip()]
    for ident in _identities(request):
        for rate in rates:
            throttle = ShopperThrottle(ident, rate)
            if not throttle.allow_request(request, None):
                waits.append(throttle.wait() or 1.0)
    return max(waits) if waits else None


def throttle_shoppers(view):
    """Refuse a POST with a 429 page when its client is over SHOP_THROTTLE_RATE (GETs are not counted)."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method == "POST" and (wait := shopper_wait(request)) is not None:
            seconds = max(1, int(wait + 0.999))
            response = render(request, "shop/throttled.html", {"seconds": seconds}, status=429)
            response["Retry-After"] = str(seconds)
            return response
        return view(request, *args, **kwargs)

    return wrapped

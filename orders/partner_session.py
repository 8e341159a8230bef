"""A verified partner shopper in the session, and the `?partner_token=` entry redirect.

Entry: any shopper GET with `?partner_token=…` is verified server-to-server, and
the response is a redirect to the same URL without the token, so the token never
stays in the address bar, the history, Referer headers or later log lines.

The session itself holds the verified identity: {user id, token hash,
verified_at, expires_at, signature}, so every web process trusts it alone (no
per-process cache is consulted). It is trusted while the signature over those
fields matches (SECRET_KEY) and expires_at has not passed. Activity slides
expires_at forward to PARTNER_SESSION_SECONDS from now; once it runs out the
shopper must come back from the app with a token, which is verified with the
partner again. A hand-set or edited session fails the signature.
Nothing is ever bound to an identity that failed or could not be verified.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from django.contrib import messages
from django.core import signing
from django.http import HttpResponseRedirect
from django.utils.crypto import constant_time_compare

from orders.partner import (
    PartnerClient,
    PartnerError,
    PartnerUnavailable,
    partner_enabled,
    session_seconds,
)

SESSION_KEY = "kassa_partner"
ENTRY_PARAM = "partner_token"
_SIGNER_SALT = "kassa.partner.session"
# Machine endpoints never take a shopper's token; leave their URLs alone.
_NOT_SHOPPER_PATHS = ("/api/", "/webhooks/", "/static/", "/admin/", "/metrics", "/healthz")


@dataclass(frozen=True)
class PartnerIdentity:
    user_id: str
    verified_at: int  # epoch seconds


def _signature(user_id: str, digest: str, verified_at: int, expires_at: int) -> str:
    return signing.Signer(salt=_SIGNER_SALT).signature(f"{user_id}|{digest}|{verified_at}|{expires_at}")


def _session_entry(user_id: str, digest: str, verified_at: int, now: int) -> dict:
    expires_at = now + session_seconds()
    return {"uid": user_id, "th": digest, "at": verified_at, "exp": expires_at,
            "sig": _signature(user_id, digest, verified_at, expires_at)}


def partner_identity(request) -> PartnerIdentity | None:
    """The verified partner shopper of this request, or None (memoised per request)."""
    if not hasattr(request, "_partner_identity"):
        request._partner_identity = _identity_from_session(request)
    return request._partner_identity


def partner_user_id_for(request) -> str:
    """The verified partner user id to bind new orders/payments to; "" for a guest."""
    identity = partner_identity(request)
    return identity.user_id if identity else ""


def _identity_from_session(request) -> PartnerIdentity | None:
    session = getattr(request, "session", None)
    data = session.get(SESSION_KEY) if session is not None else None
    if data is None:
        return None
    now = int(time.time())
    identity = _trusted(data, now) if partner_enabled() else None
    if identity is None:
        session.pop(SESSION_KEY, None)  # forged or lapsed: forget it
    elif data["exp"] - now < session_seconds() * 0.9:
        # Slide the expiry with activity, but rewrite the session at most every tenth of its life.
        session[SESSION_KEY] = _session_entry(identity.user_id, data["th"], identity.verified_at, now)
    return identity


def _trusted(data, now: int) -> PartnerIdentity | None:
    if not isinstance(data, dict):
        return None
    user_id, digest, verified_at = data.get("uid"), data.get("th"), data.get("at")
    expires_at, sig = data.get("exp"), data.get("sig")
    if not (isinstance(user_id, str) and isinstance(digest, str) and isinstance(verified_at, int)
            and isinstance(expires_at, int) and isinstance(sig, str) and user_id and digest):
        return None
    if not constant_time_compare(sig, _signature(user_id, digest, verified_at, expires_at)):
        return None
    if now >= expires_at:
        return None
    return PartnerIdentity(user_id=user_id, verified_at=verified_at)


def partner_sign_in(request, token: str) -> PartnerIdentity | None:
    """Verify `token` and bind the session to it; on any failure the session is a guest's."""
    partner_sign_out(request)
    try:
        verification = PartnerClient().verify(token)
    except PartnerUnavailable as exc:
        messages.warning(request, exc.user_message)
        return None
    if not verification.ok:
        messages.warning(request, PartnerError.user_message)
        return None
    now = int(time.time())
    # A new identity gets a new session key (no session fixation).
    request.session.cycle_key()
    request.session[SESSION_KEY] = _session_entry(verification.user_id, verification.token_hash, now, now)
    request._partner_identity = PartnerIdentity(user_id=verification.user_id, verified_at=now)
    messages.info(request, f"Signed in from the app as {verification.user_id}.")
    return request._partner_identity


def partner_sign_out(request) -> None:
    request.session.pop(SESSION_KEY, None)
    request._partner_identity = None


def _url_without_token(request) -> str:
    query = request.GET.copy()
    query.pop(ENTRY_PARAM, None)
    # "//host/..." would be an open redirect; a path here always means this site.
    path = "/" + request.path.lstrip("/\\")
    return f"{path}?{query.urlencode()}" if query else path


class PartnerSessionMiddleware:
    """Turns `GET …?partner_token=T` into a verified session and a clean redirect."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (request.method in ("GET", "HEAD") and ENTRY_PARAM in request.GET
                and not request.path.startswith(_NOT_SHOPPER_PATHS)):
            if partner_enabled():
                partner_sign_in(request, request.GET.get(ENTRY_PARAM, ""))
            response = HttpResponseRedirect(_url_without_token(request))
            response["Cache-Control"] = "no-store"
            response["Referrer-Policy"] = "no-referrer"
            return response
        return self.get_response(request)

"""A sandbox twin of the partner super-app's "Verify User Token" endpoint.

``GET|POST /partner/verify`` with the shopper's token in ``miniapp-user-token`` and
the merchant key in ``x-api-key``. Known tokens (``make run`` demo and tests):

    sandbox-user-token     success, data.id = user@example.com
    sandbox-other-token    success, data.id = other@example.com
    sandbox-expired-token  HTTP 401, success false ("Token expired")
    sandbox-noid-token     HTTP 200, success true but no data.id (must be refused)
    sandbox-error-token    HTTP 500
    sandbox-slow-token     answers after SLOW_SECONDS (past Kassa's 3 s timeout)

Any other token gets 401 / success false. Test-only actions (not on the real API):

    POST /partner/_issue   {"id": "a@b.c"}  -> {"token": "..."}   a fresh valid token
    POST /partner/_revoke  {"token": "..."} -> {"revoked": true}  it then answers as expired
    GET  /partner/                          an HTML page with demo sign-in links
"""
from __future__ import annotations

import html
import os
import secrets
import threading
import time

from sandbox.http_types import Request, Response, Route
from sandbox.sandbox_app import SandboxContext

API_KEY = os.environ.get("SANDBOX_PARTNER_API_KEY", "sandbox_partner_key")
SLOW_SECONDS = float(os.environ.get("SANDBOX_PARTNER_SLOW_SECONDS", "5"))
KASSA_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

VALID_TOKENS = {"sandbox-user-token": "user@example.com", "sandbox-other-token": "other@example.com"}
EXPIRED_TOKEN = "sandbox-expired-token"
NO_ID_TOKEN = "sandbox-noid-token"
ERROR_TOKEN = "sandbox-error-token"
SLOW_TOKEN = "sandbox-slow-token"


def _ok(user_id: str) -> Response:
    return Response.json({"status_code": 200, "result": "Operation Completed Successfully", "success": True,
                          "data": {"id": user_id}})


def _refused(result: str, status: int = 401) -> Response:
    return Response.json({"status_code": status, "result": result, "success": False, "data": None}, status=status)


class PartnerTokens:
    """Issued and revoked tokens, in memory (a restart forgets the test-only ones)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._issued: dict[str, str] = dict(VALID_TOKENS)
        self._revoked: set[str] = set()

    def issue(self, user_id: str) -> str:
        token = "sbx_" + secrets.token_urlsafe(24)
        with self._lock:
            self._issued[token] = user_id
        return token

    def revoke(self, token: str) -> bool:
        with self._lock:
            known = token in self._issued
            self._revoked.add(token)
        return known

    def user_for(self, token: str) -> str | None:
        with self._lock:
            return None if token in self._revoked else self._issued.get(token)

    def is_revoked(self, token: str) -> bool:
        with self._lock:
            return token in self._revoked


def routes(ctx: SandboxContext) -> list[Route]:
    tokens = PartnerTokens()
    ctx.services["partner"] = tokens

    def verify(request: Request) -> Response:
        if request.headers.get("x-api-key", "") != API_KEY:
            return _refused("Invalid API key")
        token = request.headers.get("miniapp-user-token", "")
        if token == ERROR_TOKEN:
            return Response.json({"error": "internal error"}, status=500)
        if token == SLOW_TOKEN:
            time.sleep(SLOW_SECONDS)
            return _ok("slow@example.com")
        if token == NO_ID_TOKEN:
            return Response.json({"status_code": 200, "result": "Operation Completed Successfully",
                                  "success": True, "data": {}})
        if token == EXPIRED_TOKEN or tokens.is_revoked(token):
            return _refused("Token expired")
        user_id = tokens.user_for(token)
        return _ok(user_id) if user_id else _refused("Invalid token")

    def issue(request: Request) -> Response:
        try:
            user_id = str(request.json().get("id", "")).strip()
        except (ValueError, AttributeError):
            user_id = ""
        if not user_id:
            return Response.json({"error": "give {\"id\": \"someone@example.com\"}"}, status=400)
        return Response.json({"token": tokens.issue(user_id), "id": user_id})

    def revoke(request: Request) -> Response:
        try:
            token = str(request.json().get("token", ""))
        except (ValueError, AttributeError):
            token = ""
        if not token:
            return Response.json({"error": "give {\"token\": \"...\"}"}, status=400)
        tokens.revoke(token)
        return Response.json({"revoked": True})

    def demo(request: Request) -> Response:
        links = "".join(
            f'<li><a href="{html.escape(KASSA_URL)}/me/payments/?partner_token={html.escape(token)}">'
            f"My payments as {html.escape(label)}</a></li>"
            for token, label in [*VALID_TOKENS.items(), (EXPIRED_TOKEN, "an expired token"),
                                 (ERROR_TOKEN, "a token while the partner API fails")]
        )
        return Response.html(
            "<!doctype html><meta charset=utf-8><title>Partner super-app (sandbox)</title>"
            "<h1>Partner super-app (sandbox)</h1><p>Open Kassa the way the app would, with a user token:</p>"
            f"<ul>{links}</ul><p>Add <code>?partner_token=sandbox-user-token</code> to any checkout URL "
            "to pay as a signed-in app user.</p>"
        )

    return [
        Route("*", "/partner/verify", verify),
        Route("POST", "/partner/_issue", issue),
        Route("POST", "/partner/_revoke", revoke),
        Route("GET", "/partner", demo),
    ]

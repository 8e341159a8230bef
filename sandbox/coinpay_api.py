"""Sandbox twin of CoinPay (seed 002): JWT-ish login, transactions, refunds, payouts,
a hosted pay page, and HMAC-signed webhooks delivered (and retried) to Kassa.

Routes (prefix /coinpay):
  POST /api/auth/login · POST|GET /api/transactions[/<id>] · POST|GET /api/transactions/<id>/refunds
  POST /api/payouts · GET /api/payouts[/<id>][?<field or metadata key>=<value>]
  GET|POST /pay/<id> (hosted page with Pay / Fail)
  POST /_sandbox/pay {transactionId, fail?, amount?} · POST /_sandbox/config
  POST /_sandbox/revoke_tokens · GET /_sandbox/info
Amounts on the wire are decimal strings in major units, as CoinPay sends them.
"""
from __future__ import annotations

import html
import json
import os
import secrets
import time
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from payments.providers.signatures import hmac_sha256_hex
from sandbox.gateway_common import JsonStore, WebhookSender, new_id, update_config
from sandbox.http_types import Request, Response, Route
from sandbox.sandbox_app import SandboxContext

PREFIX = "/coinpay"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _error(message: str, status: int = 400) -> Response:
    return Response.json({"success": False, "message": message, "error": message}, status=status)


def _amount(value: Any) -> Decimal | None:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount > 0 else None


class CoinPaySandbox:
    def __init__(self, ctx: SandboxContext) -> None:
        self.username = os.environ.get("COINPAY_USERNAME", "sandbox")
        self.password = os.environ.get("COINPAY_PASSWORD", "sandbox-password")
        self.webhook_secret = os.environ.get("COINPAY_WEBHOOK_SECRET", "sandbox_coinpay_secret")
        # Where Kassa listens (the same SITE_URL Kassa's settings read), not this process's PORT.
        site = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
        self.ctx = ctx
        self.tokens: dict[str, float] = {}
        self.store = JsonStore(ctx.state_dir / "coinpay.json", {
            "transactions": {}, "refunds": {}, "payouts": {}, "idempotency": {}})
        # Controls come from the environment at each start, never from a stale state file.
        self.store.data["config"] = {
            "webhook_url": os.environ.get("SANDBOX_COINPAY_WEBHOOK_URL", f"{site}/webhooks/coinpay/"),
            "token_ttl_minutes": 60, "fault_500": 0}
        self.sender = WebhookSender(lambda body: {"X-Signature": hmac_sha256_hex(self.webhook_secret, body)},
                                    event_id_header="X-Event-Id")
        self.logins = 0
        ctx.on_close(self.store.save)

    @property
    def data(self) -> dict[str, Any]:
        return self.store.data

    def _guard(self, request: Request) -> Response | None:
        if self.data["config"].get("fault_500", 0) > 0:
            self.data["config"]["fault_500"] -= 1
            return _error("sandbox fault", status=500)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if self.tokens.get(token, 0) < time.time():
            return _error("Unauthorized: invalid or expired token", status=401)
        return None

    def _webhook(self, event: str, data: dict, delay: float = 0.0) -> None:
        url = self.data["config"]["webhook_url"]
        if not url:
            return
        event_id = new_id("evt")
        body = json.dumps({"id": event_id, "event": event, "createdAt": _now(), "data": data},
                          separators=(",", ":")).encode()
        self.sender.send_batch(url, [(event_id, body)], delay=delay,
                               duplicate_rate=float(self.data["config"].get("duplicate_rate") or 0))

    def login(self, request: Request) -> Response:
        try:
            body = request.json()
        except ValueError:
            return _error("Invalid JSON")
        if body.get("username") != self.username or body.get("password") != self.password:
            return _error("Invalid username or password", status=401)
        token = secrets.token_urlsafe(24)
        minutes = int(self.data["config"]["token_ttl_minutes"])
        self.tokens[token] = time.time() + minutes * 60
        self.logins += 1
        return Response.json({"success": True, "token": token, "expiresIn": minutes,
                              "user": {"username": self.username}})

    def transactions(self, request: Request) -> Response:
        if fault := self._guard(request):
            return fault
        tx_id, _, action = request.subpath.strip("/").partition("/")
        with self.store.lock:
            if request.method == "GET" and action == "refunds":
                items = [r for r in self.data["refunds"].values() if r["transactionId"] == tx_id]
                return Response.json({"success": True, "data": items})
            if request.method == "GET":
                tx = self.data["transactions"].get(tx_id)
                return Response.json(tx) if tx else _error("Transaction not found", status=404)
            try:
                body = request.json()
            except ValueError:
                return _error("Invalid JSON")
            if tx_id and action == "refunds":
                return self._refund(request, tx_id, body)
            amount = _amount(body.get("amount"))
            if amount is None or not body.get("currency"):
                return _error("amount and currency are required")
            tx = {"transactionId": new_id("tx", 20), "amount": str(body["amount"]), "currency": body["currency"],
                  "type": body.get("type", "Payment"), "status": "Pending", "description": body.get("description", ""),
                  "receiverAddress": "0x" + secrets.token_hex(20), "token": "USDC", "network": "polygon-amoy",
                  "metadata": body.get("metadata") or {}, "createdAt": _now(), "completedAt": None, "txHash": None}
            tx["paymentUrl"] = f"{self.ctx.base_url}{PREFIX}/pay/{tx['transactionId']}"
            self.data["transactions"][tx["transactionId"]] = tx
            self.store.save()
            return Response.json(tx, status=201)

    def complete(self, tx_id: str, *, fail: bool = False, amount: str | None = None, delay: float = 0.0) -> dict | None:
        with self.store.lock:
            tx = self.data["transactions"].get(tx_id)
            if tx is None:
                return None
            if tx["status"] == "Pending":
                tx.update(status="Failed" if fail else "Completed", completedAt=_now(),
                          txHash=None if fail else "0x" + secrets.token_hex(32))
                if amount is not None:
                    tx["amount"] = str(amount)
                if fail:
                    tx["error"] = "Transaction expired or was rejected on chain (sandbox)"
                self.store.save()
            snapshot = dict(tx)
        self._webhook("transaction.failed" if snapshot["status"] == "Failed" else "transaction.completed",
                      snapshot, delay=delay)
        return snapshot

    def _idempotent(self, request: Request, body: dict, kind: str) -> tuple[str, Response | None]:
        key = request.headers.get("Idempotency-Key", "")
        seen = self.data["idempotency"].get(key) if key else None
        if seen:
            if seen["fingerprint"] != json.dumps(body, sort_keys=True):
                return key, _error("Idempotency-Key reused with a different request", status=409)
            return key, Response.json(self.data[kind][seen["id"]])
        return key, None

    def _refund(self, request: Request, tx_id: str, body: dict) -> Response:
        tx = self.data["transactions"].get(tx_id)
        if tx is None:
            return _error("Transaction not found", status=404)
        key, replay = self._idempotent(request, body, "refunds")
        if replay:
            return replay
        amount = _amount(body.get("amount"))
        refunded = sum(Decimal(r["amount"]) for r in self.data["refunds"].values() if r["transactionId"] == tx_id)
        if tx["status"] != "Completed" or amount is None or amount + refunded > Decimal(tx["amount"]):
            return _error("Refund amount exceeds the completed amount")
        refund = {"refundId": new_id("rf", 20), "transactionId": tx_id, "amount": str(body["amount"]),
                  "currency": tx["currency"], "status": "Pending", "metadata": body.get("metadata") or {},
                  "createdAt": _now()}
        self.data["refunds"][refund["refundId"]] = {**refund, "status": "Completed"}
        if key:
            self.data["idempotency"][key] = {"fingerprint": json.dumps(body, sort_keys=True), "id": refund["refundId"]}
        self.store.save()
        self._webhook("refund.completed", {**refund, "status": "Completed"}, delay=0.2)
        return Response.json(refund, status=201)

    def payouts(self, request: Request) -> Response:
        if fault := self._guard(request):
            return fault
        if request.method == "GET":
            return self._payouts_read(request)
        with self.store.lock:
            try:
                body = request.json()
            except ValueError:
                return _error("Invalid JSON")
            key, replay = self._idempotent(request, body, "payouts")
            if replay:
                return replay
            if _amount(body.get("amount")) is None or not body.get("walletId"):
                return _error("amount and walletId are required")
            payout = {"id": new_id("po", 20), "payoutId": None, "amount": str(body["amount"]),
                      "currency": body.get("currency"), "walletId": body["walletId"], "status": "Pending",
                      "metadata": body.get("metadata") or {}, "createdAt": _now(), "estimatedArrival": _now()}
            payout["payoutId"] = payout["id"]
            self.data["payouts"][payout["id"]] = {**payout, "status": "Completed"}
            if key:
                self.data["idempotency"][key] = {"fingerprint": json.dumps(body, sort_keys=True), "id": payout["id"]}
            self.store.save()
        self._webhook("payout.completed", {**payout, "status": "Completed"}, delay=0.2)
        return Response.json(payout, status=201)

    def _payouts_read(self, request: Request) -> Response:
        """GET /api/payouts/<id>, or GET /api/payouts?<filters> where a filter names a top-level
        field or a metadata key (e.g. ?settlementId=42): the list style of /api/transactions."""
        with self.store.lock:
            payout_id = request.subpath.strip("/")
            if payout_id:
                payout = self.data["payouts"].get(payout_id)
                return Response.json(payout) if payout else _error("Payout not found", status=404)
            items = [p for p in self.data["payouts"].values()
                     if all(str(p.get(k, (p.get("metadata") or {}).get(k))) == v for k, v in request.query.items())]
        return Response.json({"success": True, "data": items})

    def books(self) -> dict[str, list[dict]]:
        """What this gateway performed: completed payments, refunds, payouts."""
        with self.store.lock:
            return {"payments": [dict(t) for t in self.data["transactions"].values() if t["status"] == "Completed"],
                    "refunds": [dict(r) for r in self.data["refunds"].values()],
                    "payouts": [dict(p) for p in self.data["payouts"].values()]}

    def hosted_page(self, request: Request) -> Response:
        tx_id = request.subpath.strip("/")
        tx = self.data["transactions"].get(tx_id)
        if tx is None:
            return Response.html("<h1>Unknown transaction</h1>", status=404)
        if request.method == "POST":
            tx = self.complete(tx_id, fail=request.form().get("action") == "fail")
        esc = {key: html.escape(str(value)) for key, value in tx.items() if not isinstance(value, dict)}
        buttons = ("<form method='post'><button name='action' value='pay'>Pay</button> "
                   "<button name='action' value='fail'>Fail</button></form>") if tx["status"] == "Pending" else \
            f"<p>Status: <strong>{esc['status']}</strong>. You can return to the shop.</p>"
        return Response.html(f"""<!doctype html><html><head><meta charset="utf-8"><meta name="viewport"
content="width=device-width"><title>CoinPay sandbox</title></head>
<body style="font-family:system-ui;max-width:420px;margin:2rem auto">
<p>CoinPay <strong>sandbox</strong></p><h1>{esc['amount']} {esc['currency']}</h1>
<p>Send to <code>{esc['receiverAddress']}</code> on {esc['network']}</p>{buttons}</body></html>""")

    def sandbox_pay(self, request: Request) -> Response:
        body = request.json() if request.body else {}
        tx = self.complete(str(body.get("transactionId", "")), fail=bool(body.get("fail")),
                           amount=body.get("amount"), delay=float(body.get("delay", 0)))
        return Response.json(tx) if tx else _error("Transaction not found", status=404)

    def config(self, request: Request) -> Response:
        body = request.json() if request.body else {}
        return Response.json(update_config(self.store, body, ("webhook_url", "token_ttl_minutes", "fault_500",
                                                              "duplicate_rate")))

    def revoke_tokens(self, request: Request) -> Response:
        self.tokens.clear()
        return Response.json({"revoked": True})

    def info(self, request: Request) -> Response:
        return Response.json({"config": self.data["config"], "logins": self.logins,
                              "deliveries": self.sender.log[-200:],
                              "counts": {k: len(self.data[k]) for k in ("transactions", "refunds", "payouts")}})


def routes(ctx: SandboxContext) -> list[Route]:
    sandbox = CoinPaySandbox(ctx)
    ctx.services["coinpay"] = sandbox
    return [
        Route("POST", f"{PREFIX}/api/auth/login", sandbox.login),
        Route("POST", f"{PREFIX}/api/transactions", sandbox.transactions),
        Route("GET", f"{PREFIX}/api/transactions", sandbox.transactions),
        Route("POST", f"{PREFIX}/api/payouts", sandbox.payouts),
        Route("GET", f"{PREFIX}/api/payouts", sandbox.payouts),
        Route("GET", f"{PREFIX}/pay", sandbox.hosted_page),
        Route("POST", f"{PREFIX}/pay", sandbox.hosted_page),
        Route("POST", f"{PREFIX}/_sandbox/pay", sandbox.sandbox_pay),
        Route("POST", f"{PREFIX}/_sandbox/config", sandbox.config),
        Route("POST", f"{PREFIX}/_sandbox/revoke_tokens", sandbox.revoke_tokens),
        Route("GET", f"{PREFIX}/_sandbox/info", sandbox.info),
    ]

"""Sandbox twin of Razorpay: the REST v1 subset Kassa uses, a hosted checkout page,
and signed webhooks delivered (and retried) to Kassa.

Routes (prefix /razorpay):
  POST /v1/orders · GET /v1/orders/<id>[/payments]
  GET /v1/payments/<id> · POST /v1/payments/<id>/capture · POST /v1/payments/<id>/refund
  GET /v1/payments/<id>/refunds (the payment's refunds, each with its notes and status)
  POST|GET /v1/payments/<id>/transfers · POST /v1/transfers/<id>/reversals (X-Transfer-Idempotency)
  GET|POST /checkout            hosted checkout ("Pay" / "Fail"), then POSTs the
                                handler fields to callback_url (redirect mode)
  POST /_sandbox/pay            {order_id, fail?, out_of_order?, capture?}: pay without a browser
  POST /_sandbox/config         {webhook_url?, auto_capture?, refund_status?, fault_500?, duplicate_rate?}
  GET  /_sandbox/info           webhook delivery log and counts
"""
from __future__ import annotations

import base64
import html
import json
import os
import re
import time
from typing import Any

from payments.providers.signatures import hmac_sha256_hex, razorpay_payment_signature
from sandbox.gateway_common import JsonStore, WebhookSender, new_id, update_config
from sandbox.http_types import Request, Response, Route
from sandbox.sandbox_app import SandboxContext

PREFIX = "/razorpay"
ACCOUNT_RE = re.compile(r"^acc_[A-Za-z0-9]{14}$")


def _error(description: str, status: int = 400, field: str | None = None) -> Response:
    return Response.json({"error": {"code": "BAD_REQUEST_ERROR", "description": description, "field": field,
                                    "source": "business", "step": "payment_initiation",
                                    "reason": "input_validation_failed"}}, status=status)


class RazorpaySandbox:
    def __init__(self, ctx: SandboxContext) -> None:
        self.ctx = ctx
        self.key_id = os.environ.get("RAZORPAY_KEY_ID", "rzp_test_sandbox")
        self.key_secret = os.environ.get("RAZORPAY_KEY_SECRET", "sandbox_key_secret")
        self.webhook_secret = os.environ.get("RAZORPAY_WEBHOOK_SECRET", "sandbox_webhook_secret")
        # Where Kassa listens (the same SITE_URL Kassa's settings read), not this process's PORT.
        site = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
        self.store = JsonStore(ctx.state_dir / "razorpay.json", {
            "orders": {}, "payments": {}, "refunds": {}, "transfers": {}, "reversals": {}, "idempotency": {}})
        # Controls come from the environment at each start, never from a stale state file.
        self.store.data["config"] = {
            "webhook_url": os.environ.get("SANDBOX_RAZORPAY_WEBHOOK_URL", f"{site}/webhooks/razorpay/"),
            "auto_capture": True, "refund_status": "pending", "fault_500": 0}
        self.sender = WebhookSender(lambda body: {"X-Razorpay-Signature": hmac_sha256_hex(self.webhook_secret, body)},
                                    event_id_header="X-Razorpay-Event-Id")
        ctx.on_close(self.store.save)

    @property
    def data(self) -> dict[str, Any]:
        return self.store.data

    # --- helpers -------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            key, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return key == self.key_id and secret == self.key_secret

    def _guard(self, request: Request) -> Response | None:
        config = self.data["config"]
        if config.get("fault_500", 0) > 0:
            config["fault_500"] -= 1
            return Response.json({"error": {"code": "SERVER_ERROR", "description": "sandbox fault"}}, status=500)
        if not self._authorized(request):
            return Response.json({"error": {"code": "BAD_REQUEST_ERROR",
                                            "description": "Authentication failed"}}, status=401)
        return None

    def _event(self, event: str, **entities: dict) -> tuple[str, bytes]:
        body = {"entity": "event", "account_id": "acc_SandboxMerchant", "event": event,
                "contains": list(entities), "payload": {name: {"entity": ent} for name, ent in entities.items()},
                "created_at": int(time.time())}
        return new_id("evt"), json.dumps(body, separators=(",", ":")).encode()

    def _send(self, events: list[tuple[str, bytes]], delay: float = 0.0) -> None:
        url = self.data["config"]["webhook_url"]
        if url:
            self.sender.send_batch(url, events, delay=delay,
                                   duplicate_rate=float(self.data["config"].get("duplicate_rate") or 0))

    # --- orders --------------------------------------------------------------------

    def orders(self, request: Request) -> Response:
        if fault := self._guard(request):
            return fault
        if request.method == "POST" and not request.subpath:
            try:
                body = request.json()
            except ValueError:
                return _error("The request body is not valid JSON.")
            amount, receipt = body.get("amount"), str(body.get("receipt") or "")
            if not isinstance(amount, int) or amount < 100:
                return _error("Order amount less than minimum amount allowed", field="amount")
            if len(receipt) > 40:
                return _error("receipt: The receipt may not be greater than 40 characters.", field="receipt")
            order = {"id": new_id("order"), "entity": "order", "amount": amount, "amount_paid": 0,
                     "amount_due": amount, "currency": body.get("currency", "INR"), "receipt": receipt,
                     "status": "created", "attempts": 0, "notes": body.get("notes") or {},
                     "created_at": int(time.time())}
            with self.store.lock:
                self.data["orders"][order["id"]] = order
                self.store.save()
            return Response.json(order)
        order_id, _, tail = request.subpath.strip("/").partition("/")
        order = self.data["orders"].get(order_id)
        if order is None:
            return _error("The id provided does not exist", status=400)
        if tail == "payments":
            items = [p for p in self.data["payments"].values() if p["order_id"] == order_id]
            return Response.json({"entity": "collection", "count": len(items), "items": items})
        return Response.json(order)

    # --- paying (the shopper's side) -------------------------------------------------

    def pay(self, order_id: str, *, fail: bool = False, out_of_order: bool = False, capture: bool | None = None,
            delay: float = 0.0) -> tuple[dict | None, dict]:
        """Create a payment attempt on an order, send its webhooks, return (payment, handler fields)."""
        with self.store.lock:
            order = self.data["orders"].get(order_id)
            if order is None:
                return None, {}
            order["attempts"] += 1
            capture = self.data["config"]["auto_capture"] if capture is None else capture
            payment = {"id": new_id("pay"), "entity": "payment", "amount": order["amount"],
                       "currency": order["currency"], "status": "failed" if fail else "authorized",
                       "order_id": order_id, "method": "card", "captured": False, "amount_refunded": 0,
                       "refund_status": None, "description": order["receipt"], "email": "shopper@example.com",
                       "contact": "+919999999999", "notes": order["notes"], "fee": None, "tax": None,
                       "error_code": "BAD_REQUEST_ERROR" if fail else None,
                       "error_description": "Payment failed (sandbox: shopper pressed Fail)" if fail else None,
                       "created_at": int(time.time())}
            self.data["payments"][payment["id"]] = payment
            events = []
            if fail:
                events.append(self._event("payment.failed", payment=dict(payment)))
            else:
                events.append(self._event("payment.authorized", payment=dict(payment)))
                if capture:
                    self._capture(payment)
                    events.append(self._event("payment.captured", payment=dict(payment)))
                    events.append(self._event("order.paid", payment=dict(payment), order=dict(order)))
            self.store.save()
        self._send(list(reversed(events)) if out_of_order else events, delay=delay)
        if fail:
            fields = {"error[code]": "BAD_REQUEST_ERROR", "error[description]": payment["error_description"],
                      "error[source]": "customer", "error[reason]": "payment_failed",
                      "error[metadata]": json.dumps({"payment_id": payment["id"], "order_id": order_id})}
        else:
            fields = {"razorpay_payment_id": payment["id"], "razorpay_order_id": order_id,
                      "razorpay_signature": razorpay_payment_signature(order_id, payment["id"], self.key_secret)}
        return payment, fields

    def _capture(self, payment: dict) -> None:
        payment.update(status="captured", captured=True)
        order = self.data["orders"][payment["order_id"]]
        order.update(status="paid", amount_paid=payment["amount"], amount_due=0)

    def sandbox_pay(self, request: Request) -> Response:
        body = request.json() if request.body else {}
        payment, fields = self.pay(str(body.get("order_id", "")), fail=bool(body.get("fail")),
                                   out_of_order=bool(body.get("out_of_order")), capture=body.get("capture"),
                                   delay=float(body.get("delay", 0)))
        if payment is None:
            return _error("The id provided does not exist")
        return Response.json({"payment": payment, "handler": fields})

    def checkout(self, request: Request) -> Response:
        params = {**request.query, **(request.form() if request.method == "POST" else {})}
        order = self.data["orders"].get(params.get("order_id", ""))
        if order is None:
            return Response.html("<h1>Unknown order</h1>", status=404)
        esc = {key: html.escape(str(value)) for key, value in params.items()}
        amount = f"{order['amount'] // 100}.{order['amount'] % 100:02d} {order['currency']}"
        page = f"""<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Razorpay sandbox checkout</title><style>
body{{font-family:system-ui;max-width:420px;margin:2rem auto;padding:0 1rem}}
.card{{border:1px solid #ddd;border-radius:12px;padding:1.5rem}}
button{{font-size:1rem;padding:.7rem 1.4rem;border-radius:8px;border:0;margin-right:.5rem}}
.pay{{background:#2b67f6;color:#fff}}.fail{{background:#eee}}</style></head><body><div class="card">
<p>Razorpay <strong>sandbox</strong> checkout</p><h1>{html.escape(amount)}</h1>
<p>{esc.get('name', '')} — {esc.get('description', '')}</p>
<form method="post" action="{PREFIX}/checkout/submit"><input type="hidden" name="order_id" value="{esc['order_id']}">
<input type="hidden" name="callback_url" value="{esc.get('callback_url', '')}">
<button class="pay" name="action" value="pay">Pay</button><button class="fail" name="action" value="fail">Fail</button>
</form></div></body></html>"""
        return Response.html(page)

    def checkout_submit(self, request: Request) -> Response:
        form = request.form()
        payment, fields = self.pay(form.get("order_id", ""), fail=form.get("action") == "fail")
        callback = form.get("callback_url", "")
        if payment is None or not callback.startswith(("http://", "https://")):
            return Response.html("<h1>Cannot complete this checkout</h1>", status=400)
        inputs = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                         for k, v in fields.items())
        # Redirect mode: the browser POSTs the handler fields to the merchant's callback_url.
        page = f"""<!doctype html><html><head><meta charset="utf-8"><title>Returning to the shop…</title></head>
<body onload="document.forms[0].submit()"><form method="post" action="{html.escape(callback)}">{inputs}
<noscript><button>Return to the shop</button></noscript></form></body></html>"""
        return Response.html(page)

    # --- payments: fetch, capture, refund, transfers ---------------------------------

    def payments(self, request: Request) -> Response:
        if fault := self._guard(request):
            return fault
        payment_id, _, action = request.subpath.strip("/").partition("/")
        with self.store.lock:
            payment = self.data["payments"].get(payment_id)
            if payment is None:
                return _error("The id provided does not exist")
            if request.method == "GET" and not action:
                return Response.json(payment)
            if request.method == "GET" and action == "refunds":
                items = [r for r in self.data["refunds"].values() if r["payment_id"] == payment_id]
                return Response.json({"entity": "collection", "count": len(items), "items": items})
            if request.method == "GET" and action == "transfers":
                items = [t for t in self.data["transfers"].values() if t["source"] == payment_id]
                return Response.json({"entity": "collection", "count": len(items), "items": items})
            try:
                body = request.json() if request.body else {}
            except ValueError:
                return _error("The request body is not valid JSON.")
            if action == "capture":
                if payment["status"] != "authorized":
                    return _error("This payment has already been captured" if payment["captured"]
                                  else "Only authorized payments can be captured")
                if body.get("amount") != payment["amount"]:
                    return _error("Capture amount must be equal to the amount authorized", field="amount")
                self._capture(payment)
                self.store.save()
                self._send([self._event("payment.captured", payment=dict(payment))])
                return Response.json(payment)
            if action == "refund":
                return self._refund(request, payment, body)
            if action == "transfers":
                return self._transfer(request, payment, body)
        return _error("Unsupported action", status=404)

    def _refund(self, request: Request, payment: dict, body: dict) -> Response:
        key = request.headers.get("X-Refund-Idempotency", "")
        fingerprint = json.dumps(body, sort_keys=True)
        if key:
            seen = self.data["idempotency"].get(key)
            if seen:
                if seen["fingerprint"] != fingerprint:
                    return _error("Different request with the same idempotency key has already been processed.")
                return Response.json(self.data["refunds"][seen["refund_id"]])
        amount = body.get("amount", payment["amount"] - payment["amount_refunded"])
        if payment["status"] not in ("captured", "refunded") or not isinstance(amount, int) or amount <= 0 or \
                amount > payment["amount"] - payment["amount_refunded"]:
            return _error("The refund amount provided is greater than amount captured", field="amount")
        refund = {"id": new_id("rfnd"), "entity": "refund", "amount": amount, "currency": payment["currency"],
                  "payment_id": payment["id"], "notes": body.get("notes") or {}, "receipt": None,
                  "status": self.data["config"]["refund_status"], "speed_processed": "normal",
                  "created_at": int(time.time())}
        payment["amount_refunded"] += amount
        payment["refund_status"] = "full" if payment["amount_refunded"] == payment["amount"] else "partial"
        if payment["refund_status"] == "full":
            payment["status"] = "refunded"
        self.data["refunds"][refund["id"]] = refund
        if key:
            self.data["idempotency"][key] = {"fingerprint": fingerprint, "refund_id": refund["id"]}
        self.store.save()
        if refund["status"] == "pending":
            processed = {**refund, "status": "processed"}
            self.data["refunds"][refund["id"]] = processed
            self._send([self._event("refund.processed", refund=processed, payment=dict(payment))], delay=0.2)
        return Response.json(refund)

    def _replay(self, request: Request, body: dict, kind: str) -> tuple[str, Response | None]:
        """X-Transfer-Idempotency: the same key and body answers what the first call made."""
        key = request.headers.get("X-Transfer-Idempotency", "")
        seen = self.data["idempotency"].get(f"{kind}:{key}") if key else None
        if seen is None:
            return key, None
        if seen["fingerprint"] != json.dumps(body, sort_keys=True):
            return key, _error("Different request with the same idempotency key has already been processed.")
        return key, Response.json(seen["answer"])

    def _remember(self, key: str, kind: str, body: dict, answer: dict) -> None:
        if key:
            self.data["idempotency"][f"{kind}:{key}"] = {"fingerprint": json.dumps(body, sort_keys=True),
                                                         "answer": answer}

    def _transfer(self, request: Request, payment: dict, body: dict) -> Response:
        key, replay = self._replay(request, body, "transfer")
        if replay:
            return replay
        wanted = body.get("transfers") or []
        # A failed transfer moved no money: it does not count against the captured amount.
        already = sum(t["amount"] for t in self.data["transfers"].values()
                      if t["source"] == payment["id"] and t["status"] != "failed")
        if payment["status"] not in ("captured", "refunded"):
            return _error("Transfers can be created only for captured payments")
        if not wanted or any(not ACCOUNT_RE.match(str(t.get("account", ""))) for t in wanted):
            return _error("The account id is invalid", field="account")
        if already + sum(int(t.get("amount") or 0) for t in wanted) > payment["amount"]:
            return _error("The sum of amount requested for transfer is greater than the captured amount")
        items, events = [], []
        for spec in wanted:
            fails = "FAIL" in spec["account"]
            transfer = {"id": new_id("trf"), "entity": "transfer", "status": "pending", "source": payment["id"],
                        "recipient": spec["account"], "amount": int(spec["amount"]),
                        "currency": spec.get("currency", payment["currency"]), "amount_reversed": 0,
                        "notes": spec.get("notes") or {}, "on_hold": bool(spec.get("on_hold")),
                        "created_at": int(time.time())}
            self.data["transfers"][transfer["id"]] = transfer
            items.append(dict(transfer))
            final = {**transfer, "status": "failed" if fails else "processed"}
            if fails:
                final["error"] = {"description": "Linked account is not activated"}
            self.data["transfers"][transfer["id"]] = final
            events.append(self._event("transfer.failed" if fails else "transfer.processed", transfer=final))
        answer = {"entity": "collection", "count": len(items), "items": items}
        self._remember(key, "transfer", body, answer)
        self.store.save()
        self._send(events, delay=0.2)
        return Response.json(answer)

    def transfers(self, request: Request) -> Response:
        if fault := self._guard(request):
            return fault
        transfer_id, _, action = request.subpath.strip("/").partition("/")
        with self.store.lock:
            transfer = self.data["transfers"].get(transfer_id)
            if transfer is None or action != "reversals":
                return _error("The id provided does not exist")
            body = request.json() if request.body else {}
            key, replay = self._replay(request, body, "reversal")
            if replay:
                return replay
            amount = int(body.get("amount") or transfer["amount"] - transfer["amount_reversed"])
            if amount <= 0 or amount > transfer["amount"] - transfer["amount_reversed"]:
                return _error("The reversal amount provided is greater than the unreversed amount", field="amount")
            transfer["amount_reversed"] += amount
            reversal = {"id": new_id("rvrsl"), "entity": "reversal", "transfer_id": transfer_id, "amount": amount,
                        "currency": transfer["currency"], "notes": body.get("notes") or {},
                        "created_at": int(time.time())}
            self.data["reversals"][reversal["id"]] = reversal
            self._remember(key, "reversal", body, reversal)
            self.store.save()
        return Response.json(reversal)

    # --- sandbox controls ------------------------------------------------------------

    def config(self, request: Request) -> Response:
        body = request.json() if request.body else {}
        return Response.json(update_config(self.store, body, ("webhook_url", "auto_capture", "refund_status",
                                                              "fault_500", "duplicate_rate")))

    def books(self) -> dict[str, list[dict]]:
        """What this gateway performed: captured payments, refunds, transfers, reversals."""
        with self.store.lock:
            return {"payments": [dict(p) for p in self.data["payments"].values() if p["captured"]],
                    "refunds": [dict(r) for r in self.data["refunds"].values()],
                    "transfers": [dict(t) for t in self.data["transfers"].values()],
                    "reversals": [dict(r) for r in self.data["reversals"].values()]}

    def info(self, request: Request) -> Response:
        return Response.json({"config": self.data["config"], "deliveries": self.sender.log[-200:],
                              "counts": {name: len(self.data[name]) for name in ("orders", "payments", "refunds",
                                                                                 "transfers")}})


def routes(ctx: SandboxContext) -> list[Route]:
    sandbox = RazorpaySandbox(ctx)
    ctx.services["razorpay"] = sandbox
    return [
        Route("POST", f"{PREFIX}/v1/orders", sandbox.orders),
        Route("GET", f"{PREFIX}/v1/orders", sandbox.orders),
        Route("GET", f"{PREFIX}/v1/payments", sandbox.payments),
        Route("POST", f"{PREFIX}/v1/payments", sandbox.payments),
        Route("POST", f"{PREFIX}/v1/transfers", sandbox.transfers),
        Route("GET", f"{PREFIX}/checkout", sandbox.checkout),
        Route("POST", f"{PREFIX}/checkout", sandbox.checkout),
        Route("POST", f"{PREFIX}/checkout/submit", sandbox.checkout_submit),
        Route("POST", f"{PREFIX}/_sandbox/pay", sandbox.sandbox_pay),
        Route("POST", f"{PREFIX}/_sandbox/config", sandbox.config),
        Route("GET", f"{PREFIX}/_sandbox/info", sandbox.info),
    ]

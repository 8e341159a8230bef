"""The soak's load: Locust used as a library, headless, on loopback, for a bounded time.

Run as its own process (`python -m bench.soak.load <config.json> <result.json>`): importing locust
patches the standard library with gevent, which must never happen inside pytest or a Django process.

The mix: shoppers on the storefront (buy, pick a method, pay through the sandbox or abandon), API
clients (orders and payments with Idempotency-Keys, retried on timeouts and 5xx like a real client;
they pay exact, under, over, twice or after expiry, or start a second payment with another method on the
same order and pay both, then refund fully or partly), a seller (dashboard and CSV export) and staff
working the review queue (accept late, refund duplicate). The gateways'
webhooks (20 % duplicates, some out of order) come from the sandbox as the payments happen.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import random
import re
import struct
import sys
import time
import uuid

import gevent
from locust import HttpUser, between, events, task
from locust.env import Environment

from bench.soak.review import review_money_forms

CONFIG: dict = {}
SERVER_ERRORS: list[dict] = []
CONNECTION_ERRORS: list[dict] = []
OUTCOMES: dict[str, int] = {}
_hosts = itertools.cycle([""])


def count(outcome: str) -> None:
    OUTCOMES[outcome] = OUTCOMES.get(outcome, 0) + 1


@events.request.add_listener
def _on_request(request_type, name, response_time, response_length, response=None, exception=None, **kwargs):
    if name.startswith("sandbox "):
        return  # the sandbox is the outside world: its faults are the soak's doing, not Kassa's answers
    at = round(time.time() - CONFIG["t0"], 2)  # seconds on the soak's clock, like the fault windows
    status = getattr(response, "status_code", 0) or 0
    if status >= 500:
        SERVER_ERRORS.append({"t": at, "name": name, "status": status})
    elif exception is not None and not status:
        CONNECTION_ERRORS.append({"t": at, "name": name, "error": type(exception).__name__})


def totp(secret: str, at: float | None = None) -> str:
    """RFC 6238: six digits, 30 s steps, HMAC-SHA1 (what authenticator apps and django-otp use)."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int((at or time.time()) // 30)), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


class KassaUser(HttpUser):
    """Each user talks to one of the web processes, in turn; cookies are sent by hand because the
    production settings mark them Secure and the soak speaks plain HTTP on loopback."""

    abstract = True
    wait_time = between(0.5, 2.0)

    def __init__(self, environment):
        self.host = next(_hosts)
        super().__init__(environment)

    def _cookies(self) -> dict:
        return {"Cookie": "; ".join(f"{c.name}={c.value}" for c in self.client.cookies)}

    def get(self, path: str, name: str, **kwargs):
        return self.client.get(path, name=name, headers=self._cookies(), timeout=30, **kwargs)

    def post_form(self, path: str, data: dict, name: str, **kwargs):
        csrf = self.client.cookies.get("csrftoken", "")
        return self.client.post(path, data={"csrfmiddlewaretoken": csrf, **data}, name=name, timeout=30,
                                headers={**self._cookies(), "Referer": self.host + path}, allow_redirects=False,
                                **kwargs)

    def login(self, username: str, password: str, totp_secret: str = "") -> bool:
        self.get("/accounts/login/", "login page")
        response = self.post_form("/accounts/login/", {"username": username, "password": password}, "login")
        if totp_secret and response.status_code == 302:
            self.get("/accounts/login/verify/", "login verify page")
            response = self.post_form("/accounts/login/verify/", {"code": totp(totp_secret)}, "login verify")
        return response.status_code == 302

    def sandbox(self, path: str, body: dict, name: str):
        """A call to the sandbox (the shopper's wallet or the gateway's pay button), named apart from Kassa's."""
        return self.client.post(CONFIG["sandbox"] + path, json=body, name=f"sandbox {name}", timeout=30)


class Shopper(KassaUser):
    weight = 6

    @task
    def buy_and_pay(self) -> None:
        seller = random.choice(CONFIG["sellers"])
        page = self.get(f"/s/{seller['slug']}/", "storefront")
        forms = re.findall(r'name="product" value="(\d+)">\s*<input type="hidden" name="nonce" value="([^"]+)"',
                           page.text or "")
        if not forms:
            return
        product, nonce = random.choice(forms)
        bought = self.post_form(f"/s/{seller['slug']}/buy/", {"product": product, "nonce": nonce, "quantity": "1"},
                                "storefront buy")
        checkout = bought.headers.get("Location", "")
        if bought.status_code != 302 or "/checkout/" not in checkout:
            return
        page = self.get(checkout, "checkout")
        methods = re.findall(r'/pay/(nano|razorpay|coinpay)/"', page.text or "")
        if not methods:
            return
        method = random.choice(methods)
        started = self.post_form(f"{checkout}pay/{method}/", {}, "checkout pay")
        if started.status_code != 302:
            count(f"shop_{method}_not_started_{started.status_code}")
            return
        self.get(f"{checkout}pay/{method}/", "pay page")
        choice = random.random()
        if choice < 0.2:
            count("shop_abandoned")
            return
        times = 2 if choice > 0.9 else 1
        for _ in range(times):
            self.post_form(f"{checkout}simulate/", {"method": method}, "checkout simulate")
        count(f"shop_{method}_paid{'_twice' if times == 2 else ''}")
        self.get(f"{checkout}done/", "done", allow_redirects=True)


class ApiClient(KassaUser):
    weight = 4

    def api(self, path: str, body: dict, name: str) -> dict | None:
        """POST with one Idempotency-Key, retried on a timeout, a dropped connection or a 5xx (at most
        4 tries, with backoff): a retry can never do the work twice."""
        key = uuid.uuid4().hex
        headers = {"Authorization": f"Bearer {self.seller['api_key']}", "Idempotency-Key": key}
        for attempt in range(4):
            with self.client.post(path, json=body, headers=headers, name=name, timeout=15,
                                  catch_response=True) as response:
                if response.status_code in (200, 201):
                    return response.json()
                if response.status_code and response.status_code < 500 and response.status_code != 429:
                    response.success()  # a clear refusal is an answer, not a failure of the platform
                    count(f"api_refused_{response.status_code}")
                    return None
            gevent.sleep(0.5 * 2**attempt)
            count("api_retried")
        return None

    def read(self, path: str, name: str) -> dict | None:
        response = self.client.get(path, headers={"Authorization": f"Bearer {self.seller['api_key']}"}, name=name,
                                   timeout=15)
        return response.json() if response.status_code == 200 else None

    @task
    def order_pay_refund(self) -> None:
        self.seller = random.choice(CONFIG["sellers"])
        amount = random.choice((1999, 4999, 12900, 49900))
        order = self.api("/api/v1/orders/", {"reference": f"soak-{uuid.uuid4().hex[:12]}",
                                             "currency": self.seller["currency"], "customer_email": "s@example.com",
                                             "items": [{"name": "Soak item", "unit_amount": amount, "quantity": 1}]},
                         "api orders")
        if order is None:
            return
        method = random.choice(self.seller["methods"])
        payment = self.api(f"/api/v1/orders/{order['id']}/payments/", {"method": method}, "api payments start")
        if payment is None:
            return
        variant = random.choices(("exact", "under", "over", "twice", "late", "two_methods", "abandon"),
                                 (40, 8, 8, 10, 10, 5, 14))[0]
        if variant in ("under", "over") and method != "nano":
            variant = "exact"  # a gateway charges exactly what it was asked
        payments = [payment]
        if variant == "two_methods":
            # The shopper opens a second method on the same order (Kassa keeps one active payment per method)
            # and pays both: whichever completes second is a duplicate for the review queue.
            second = self.second_payment(order, method)
            if second is None:
                variant = "exact"
            else:
                payments.append(second)
        count(f"api_{method}_{variant}")
        if variant == "abandon":
            return
        if variant == "late":
            gevent.sleep(max(0.0, _expires_in(payment)) + CONFIG["grace_seconds"] + 20)
        for _ in range(2 if variant == "twice" else 1):
            for each in payments:
                self.pay(each, variant)
        self.follow_and_refund(payment)

    def second_payment(self, order: dict, first_method: str) -> dict | None:
        others = [method for method in self.seller["methods"] if method != first_method]
        if not others:
            return None
        return self.api(f"/api/v1/orders/{order['id']}/payments/", {"method": random.choice(others)},
                        "api payments start")

    def pay(self, payment: dict, variant: str) -> None:
        if payment["method"] == "nano":
            # 10 % off, so the amount never lands on another payment's unique amount (whole µXNO apart).
            due = int(payment["amount_due"])
            raw = {"under": due * 9 // 10, "over": due * 11 // 10}.get(variant, due)
            self.sandbox("/nano", {"action": "send", "source": "faucet", "destination": payment["pay_to"],
                                   "amount": str(raw)}, "nano send")
        elif payment["method"] == "razorpay":
            self.sandbox("/razorpay/_sandbox/pay", {"order_id": payment["pay_to"],
                                                    "out_of_order": random.random() < 0.3}, "razorpay pay")
        else:
            transaction = payment["payment_uri"].rstrip("/").rsplit("/", 1)[-1]
            self.sandbox("/coinpay/_sandbox/pay", {"transactionId": transaction}, "coinpay pay")

    def follow_and_refund(self, payment: dict) -> None:
        """Poll the payment like a client waiting for the webhook, then refund some: full or partial."""
        for _ in range(10):
            gevent.sleep(3)
            current = self.read(f"/api/v1/payments/{payment['id']}/", "api payment")
            if current and current["status"] == "completed":
                break
        else:
            return
        if random.random() < 0.35:
            partial = random.random() < 0.5
            body = {"amount": max(1, current["amount"] // 3)} if partial else {}
            if self.api(f"/api/v1/payments/{payment['id']}/refunds/", body, "api refunds"):
                count(f"api_{payment['method']}_refund_{'partial' if partial else 'full'}")


def _expires_in(payment: dict) -> float:
    from datetime import datetime

    return datetime.fromisoformat(payment["expires_at"].replace("Z", "+00:00")).timestamp() - time.time()


class Seller(KassaUser):
    weight = 1
    wait_time = between(2, 5)

    def on_start(self) -> None:
        self.seller = random.choice(CONFIG["sellers"])
        self.logged_in = self.login(self.seller["username"], self.seller["password"])

    @task
    def dashboard(self) -> None:
        if not self.logged_in:
            self.on_start()
            return
        self.get("/dashboard/", "dashboard")
        self.get("/dashboard/orders/", "dashboard orders")
        self.get("/dashboard/payments/", "dashboard payments")
        if random.random() < 0.3:
            self.get("/dashboard/orders/?export=csv", "dashboard csv export")


class Staff(KassaUser):
    weight = 1
    fixed_count = 1
    wait_time = between(3, 6)

    def on_start(self) -> None:
        staff = CONFIG["staff"]
        self.logged_in = self.login(staff["username"], staff["password"], staff["totp"])

    @task
    def review_queue(self) -> None:
        if not self.logged_in:
            self.on_start()
            return
        page = self.get("/admin/review/", "staff review queue")
        for pk, action in review_money_forms(page.text)[:3]:
            form = {"kind": "payment", "pk": pk, "action": action}
            # Money-moving actions ask first (a confirmation page); a person reads it and says yes.
            asked = self.post_form("/admin/review/act/", form, "staff review act (asks)")
            if asked.status_code != 200 or 'name="confirmed"' not in (asked.text or ""):
                count(f"staff_{action}_not_asked")
                continue
            done = self.post_form("/admin/review/act/", {**form, "confirmed": "yes"}, "staff review act (confirmed)")
            count(f"staff_{action}" if done.status_code == 302 else f"staff_{action}_refused_{done.status_code}")


def percentiles(entry) -> dict:
    return {"requests": entry.num_requests, "failures": entry.num_failures,
            "p50_ms": entry.get_response_time_percentile(0.5), "p99_ms": entry.get_response_time_percentile(0.99)}


def main() -> None:
    global _hosts
    with open(sys.argv[1]) as config:
        CONFIG.update(json.load(config))
    _hosts = itertools.cycle(CONFIG["web"])
    environment = Environment(user_classes=[Shopper, ApiClient, Seller, Staff], events=events)
    runner = environment.create_local_runner()
    started = time.time()
    runner.start(CONFIG["users"], spawn_rate=max(1, CONFIG["users"] / 10))
    gevent.spawn_later(CONFIG["seconds"], runner.quit)
    runner.greenlet.join()
    stats = environment.stats
    result = {
        "users": CONFIG["users"], "seconds": round(time.time() - started, 1),
        "total": percentiles(stats.total),
        "endpoints": {name: percentiles(entry) for (name, _method), entry in sorted(stats.entries.items())},
        "server_errors": SERVER_ERRORS, "connection_errors": CONNECTION_ERRORS,
        "outcomes": dict(sorted(OUTCOMES.items())),
    }
    with open(sys.argv[2], "w") as out:
        json.dump(result, out)


if __name__ == "__main__":
    main()

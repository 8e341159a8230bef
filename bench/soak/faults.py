"""The seven fault windows: when each happens (plan) and what it does (FAULTS).

`plan` is pure (tested in tests/bench/test_soak_rules.py): the windows follow one another, never
overlap, start after a warm-up and leave a tail for recovery, and shrink with SOAK_SECONDS.
"""
from __future__ import annotations

import concurrent.futures
import time
import uuid
from dataclasses import dataclass

import requests

from sandbox.faults import SandboxFaults

NAMES = {
    1: "celery_worker_sigkill",
    2: "web_process_sigkill",
    3: "sandbox_nano_node_down",
    4: "gateways_5xx_and_timeouts",
    5: "postgres_backends_terminated",
    6: "redis_restarted",
    7: "nano_amount_slots_exhausted",
}
# Each fault's window at full length: outages last 60 s, a kill is watched until it recovered.
LENGTHS = {1: 20, 2: 40, 3: 60, 4: 60, 5: 15, 6: 15, 7: 30}
WORKER_RESTART_SECONDS = 10


@dataclass(frozen=True)
class Window:
    number: int
    name: str
    start: float  # seconds after the load started
    length: float  # how long the fault lasts (outages) or how long recovery is watched (kills)


def plan(seconds: float, selected: list[int]) -> list[Window]:
    """The chosen faults one after another, after a 10 % warm-up and before a 10 % tail; each at its
    full length (LENGTHS) when the run has room, all shrunk alike when it has not."""
    selected = sorted(set(selected))
    if any(number not in NAMES for number in selected):
        raise ValueError(f"faults are numbered 1-7, not {selected}")
    usable = seconds * 0.8
    scale = min(1.0, usable / sum(LENGTHS[number] for number in selected)) if selected else 1.0
    gap = (usable - scale * sum(LENGTHS[number] for number in selected)) / max(1, len(selected))
    windows, at = [], seconds * 0.1
    for number in selected:
        length = round(LENGTHS[number] * scale, 1)
        windows.append(Window(number, NAMES[number], round(at, 1), length))
        at += length + gap
    return windows


def parse_selection(text: str) -> list[int]:
    return sorted({int(part) for part in text.replace(" ", "").split(",") if part}) if text else list(NAMES)


class FaultRunner:
    """Runs a fault in its window; each returns what it did and what recovered by itself."""

    def __init__(self, stack, slot_seller: str, slot_seller_key: str, slot_amount: int) -> None:
        self.stack = stack
        self.sandbox = SandboxFaults(stack.url("sandbox"))
        self.slot_seller, self.slot_seller_key = slot_seller, slot_seller_key
        self.slot_amount = slot_amount

    def run(self, window: Window) -> dict:
        return getattr(self, f"fault_{window.number}")(window)

    def _wait(self, predicate, timeout: float) -> float | None:
        """Seconds until predicate() held, or None if it never did within timeout."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if predicate():
                return round(time.monotonic() - started, 1)
            time.sleep(0.5)
        return None

    def fault_1(self, window: Window) -> dict:
        """SIGKILL a Celery worker (its pool too) and bring it back after 10 s."""
        restart_after = min(WORKER_RESTART_SECONDS, window.length / 2)
        pid = self.stack.kill("worker1")
        self.stack.ctl("stop", "worker1")  # supervisord would restart it at once; the fault wants 10 s down
        time.sleep(restart_after)
        self.stack.ctl("start", "worker1")
        back = self._wait(lambda: self.stack.running("worker1"), window.length)
        time.sleep(max(0.0, window.length - restart_after - (back or 0)))
        return {"killed_pid": pid, "down_seconds": restart_after, "restarted_by": "the soak, after the pause",
                "running_again_after_s": back, "recovered": back is not None}

    def fault_2(self, window: Window) -> dict:
        """SIGKILL one gunicorn master and its workers; supervisord restarts it."""
        pid = self.stack.kill("web1")
        back = self._wait(lambda: self.stack.healthy("web1"), max(window.length, 60))
        time.sleep(max(0.0, window.length - (back or 0)))
        return {"killed_pid": pid, "restarted_by": "supervisord", "healthy_again_after_s": back,
                "recovered": back is not None}

    def fault_3(self, window: Window) -> dict:
        """Every call to the sandbox Nano node's RPC answers 5xx for the window."""
        self.sandbox.add("^/nano", "5xx", seconds=window.length)
        time.sleep(max(0.0, window.length - 1))
        faulted = self._count_hits()  # before the rule lapses and is dropped
        time.sleep(min(1.0, window.length))
        node_back = self._wait(self._nano_answers, 30)
        return {"rule": "^/nano 5xx", "seconds": window.length, "calls_faulted": faulted,
                "node_answers_after_s": node_back, "recovered": node_back is not None}

    def fault_4(self, window: Window) -> dict:
        """The gateways' APIs: money-moving POSTs hang past Kassa's 10 s timeout, the rest answer 5xx."""
        api = r"^/(razorpay/v1|coinpay/api)/"
        self.sandbox.add(api + ".*(refund|transfers|payouts)", "hang", method="POST", seconds=window.length,
                         hang_seconds=12)
        self.sandbox.add(api, "5xx", seconds=window.length)
        time.sleep(window.length)
        return {"rules": ["refund/transfer/payout POST hang 12 s", "other gateway API calls 5xx"],
                "seconds": window.length, "recovered": True}

    def fault_5(self, window: Window) -> dict:
        """pg_terminate_backend on every backend of Kassa's database."""
        import psycopg

        from bench.soak.stack import DATABASE, PG_ADMIN_URL

        with psycopg.connect(f"{PG_ADMIN_URL}/postgres", autocommit=True) as connection:
            terminated = connection.execute(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()", [DATABASE]).fetchone()[0]
        healthy = self._wait(lambda: all(self.stack.healthy(name) for name in ("web1", "web2")), window.length)
        time.sleep(max(0.0, window.length - (healthy or 0)))
        return {"backends_terminated": terminated, "web_healthy_after_s": healthy, "recovered": healthy is not None}

    def fault_6(self, window: Window) -> dict:
        """Restart the soak's own Redis (no persistence: everything queued in it is gone)."""
        started = time.monotonic()
        self.stack.ctl("restart", "redis")
        back = self._wait(lambda: all(self.stack.healthy(name) for name in ("web1", "web2")), window.length)
        time.sleep(max(0.0, window.length - (time.monotonic() - started)))
        return {"restart_seconds": round(time.monotonic() - started, 1) if back is None else back,
                "web_healthy_after_s": back, "recovered": back is not None}

    def fault_7(self, window: Window) -> dict:
        """Fill every unique-amount slot of one seller's Nano address for one price (1,000 pending payments,
        made through Kassa's services as a bot on the storefront would), then ask for one more over the API:
        that shopper must get a clear 409, never a 500. Storefront shoppers buying at that price meet it too."""
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            outcomes = [n for part in pool.map(self._fill_slots, [250] * 4) for n in part]
        filled = round(time.monotonic() - started, 1)
        one_more = self._nano_payment()
        time.sleep(max(0.0, window.length - (time.monotonic() - started)))
        return {"payments_started": outcomes.count("started"), "slots_full": outcomes.count("no_free_amount_slot"),
                "fill_seconds": filled, "next_payment_status": one_more, "exhausted": one_more == 409,
                "recovered": one_more == 409}  # a clear answer, and everything else kept working

    def _fill_slots(self, count: int) -> list[str]:
        from django.db import connection

        from orders.actors import Actor
        from orders.services import ItemSpec, order_create
        from payments.providers.errors import PaymentError
        from payments.services import payment_start
        from sellers.models import Seller

        seller, actor, outcomes = Seller.objects.get(slug=self.slot_seller), Actor.system("soak slot filler"), []
        try:
            for _ in range(count):
                order = order_create(seller=seller, currency="INR", actor=actor, reference="soak-slots",
                                     items=[ItemSpec(name="Slot filler", unit_amount=self.slot_amount)])
                try:
                    payment_start(order_id=order.pk, method="nano", actor=actor)
                    outcomes.append("started")
                except PaymentError as exc:
                    outcomes.append(getattr(exc, "code", exc.__class__.__name__))
        finally:
            connection.close()
        return outcomes

    def _nano_payment(self) -> int:
        """An order at the fault's price and a Nano payment for it over the API; the payment's status."""
        url = self.stack.url("web2") + "/api/v1"
        headers = {"Authorization": f"Bearer {self.slot_seller_key}"}
        body = {"reference": "soak-slots", "currency": "INR",
                "items": [{"name": "Slot filler", "unit_amount": self.slot_amount, "quantity": 1}]}
        try:
            order = requests.post(f"{url}/orders/", json=body, timeout=30,
                                  headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
            if order.status_code != 201:
                return order.status_code
            payment = requests.post(f"{url}/orders/{order.json()['id']}/payments/", json={"method": "nano"},
                                    timeout=30, headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
            return payment.status_code
        except requests.RequestException:
            return 0

    def _count_hits(self) -> int:
        return sum(rule.get("hits", 0) for rule in self.sandbox.list())

    def _nano_answers(self) -> bool:
        try:
            return requests.post(self.stack.url("sandbox") + "/nano", json={"action": "version"}, timeout=3).ok
        except requests.RequestException:
            return False

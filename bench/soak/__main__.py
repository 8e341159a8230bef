"""`make soak` (python -m bench.soak): start a production-shaped Kassa, load it, break it seven ways,
wait for it to settle, and reconcile every unit of money against the sandbox's books.

Environment: SOAK_SECONDS (300), SOAK_USERS (50), SOAK_FAULTS (e.g. "1,3,5"; all seven by default),
BROKER (redis | rabbitmq), SOAK_RESULT (bench/results/soak.json, or soak_rabbitmq.json for
RabbitMQ), SOAK_DATABASE (kassa_soak; dropped and
created each run, and the RabbitMQ vhost's name) and SOAK_PG_URL (the server). Exits 1 on any loss or unexplained 5xx.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

from bench.common import ROOT
from bench.soak.faults import FaultRunner, parse_selection, plan
from bench.soak.receiver import Receiver
from bench.soak.stack import RUN_DIR, BrokerUnavailable, Stack

SLOT_PRICE = 19900  # asha-prints' "Postcard set": storefront shoppers choosing Nano meet the exhausted slots
PREFUND_RAW = 10**35  # the sellers' wallets can send every Nano refund without a faucet top-up


def close_old_connections() -> None:
    from django.db import close_old_connections as close

    close()


def static_files_stale() -> bool:
    """collectstatic with the compressed manifest storage takes minutes on a busy machine: run it only when
    a file in static/ is newer than the last manifest."""
    manifest = RUN_DIR / "staticfiles" / "staticfiles.json"
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    return any(path.stat().st_mtime > built for path in (ROOT / "static").rglob("*") if path.is_file())


def result_path(broker: str, override: str | None) -> Path:
    """Where the result goes: each broker has its own committed file, so a RabbitMQ run never
    overwrites the Redis one; SOAK_RESULT (CI: var/soak-ci.json) wins."""
    if override:
        return Path(override)
    return ROOT / "bench" / "results" / ("soak.json" if broker == "redis" else f"soak_{broker}.json")


def utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


class Soak:
    def __init__(self) -> None:
        self.seconds = int(os.environ.get("SOAK_SECONDS", "300"))
        self.users = int(os.environ.get("SOAK_USERS", "50"))
        self.selected = parse_selection(os.environ.get("SOAK_FAULTS", ""))
        broker = os.environ.get("BROKER", "redis") or "redis"
        self.result_path = result_path(broker, os.environ.get("SOAK_RESULT"))
        self.stack = Stack(broker=broker)
        self.receiver = Receiver()
        self.stop = threading.Event()
        self.faults: list[dict] = []

    # --- setting up -------------------------------------------------------------------------
    def prepare(self) -> None:
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        for path in RUN_DIR.iterdir():  # a fresh run, but collected static files are kept (slow to build)
            if path.name != "staticfiles":
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        if self.stack.broker == "rabbitmq":
            self.stack.fresh_rabbitmq_vhost()
        self.stack.fresh_database()
        os.environ.update(self.stack.env())
        os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", "--noinput", verbosity=0)
        if static_files_stale():
            call_command("collectstatic", "--noinput", verbosity=0)
        with open(os.devnull, "w") as devnull:  # the demo sellers, logins and keys; no history to settle
            call_command("seed_demo", "--orders", "0", stdout=devnull)
        from django.utils import timezone

        self.since = timezone.now()

    def sellers(self) -> list[dict]:
        from payments.demo import SELLERS, demo_api_key, nano_address_for
        from sellers.models import Seller
        from webhooks.services import webhook_endpoint_create

        out = []
        for demo in SELLERS:
            seller = Seller.objects.get(slug=demo.slug)
            endpoint = webhook_endpoint_create(seller=seller, url=self.receiver.url(f"/{demo.slug}"), events=[],
                                               description="soak receiver")
            self.receiver.secrets[f"/{demo.slug}"] = endpoint.secret
            out.append({"slug": demo.slug, "username": demo.username, "password": demo.password,
                        "currency": demo.currency, "api_key": demo_api_key(demo.slug),
                        "methods": list(seller.enabled_methods), "nano_address": nano_address_for(demo.slug),
                        "endpoint": endpoint.pk})
        return out

    def nano(self, action: str, **body) -> dict:
        return requests.post(self.stack.url("sandbox") + "/nano", json={"action": action, **body}, timeout=30).json()

    def faucet_sends(self) -> list[dict]:
        faucet = requests.get(self.stack.url("sandbox") + "/nano", timeout=10).json()["faucet"]
        history = self.nano("account_history", account=faucet, count="1000000").get("history") or []
        return [entry for entry in history if entry["type"] == "send"]

    # --- running ------------------------------------------------------------------------------
    def run_faults(self, runner: FaultRunner, t0: float) -> None:
        for window in plan(self.seconds, self.selected):
            if self.stop.wait(max(0.0, t0 + window.start - time.time())):
                return
            started = time.time()
            print(f"[soak] fault {window.number} {window.name} starts at +{started - t0:.0f}s", flush=True)
            try:
                outcome = runner.run(window)
            except Exception as exc:  # a fault that could not be applied is reported, not hidden
                outcome = {"error": repr(exc), "recovered": False}
            ended = time.time()
            self.faults.append({"number": window.number, "name": window.name, "start": utc(started),
                                "end": utc(ended), "start_s": round(started - t0, 1), "end_s": round(ended - t0, 1),
                                **outcome})

    def seller_wallets(self) -> None:
        """The sellers' wallets send the Nano refunds Kassa asks for (Kassa cannot move a seller's XNO)."""
        from payments.models import Refund
        from payments.sandbox_client import simulate_refund_send

        sent: set = set()  # a wallet sends each refund once; Kassa sees it on the node when it can
        while not self.stop.wait(5):
            close_old_connections()  # fault 5 terminates this process's backend too
            for refund in Refund.objects.filter(status="awaiting_seller").exclude(pk__in=sent):
                try:
                    simulate_refund_send(refund)
                    sent.add(refund.pk)
                except Exception as exc:  # the node may be down (fault 3): the wallet tries again later
                    print(f"[soak] nano refund send failed, retrying later: {exc!r}", flush=True)

    def settler(self, every: float) -> None:
        """Settlement normally runs daily; here it runs every `every` s so transfers and payouts meet the faults."""
        from payments.tasks import settle

        while not self.stop.wait(every):
            try:
                settle.delay()
            except Exception as exc:  # the broker may be restarting (fault 6)
                print(f"[soak] settle not queued: {exc!r}", flush=True)

    def queue_sizes(self) -> dict:
        from config.celery_app import app

        sizes = {}
        with app.connection_for_write() as connection:
            channel = connection.default_channel
            for name in ("celery", "ticks"):
                try:
                    sizes[name] = channel.queue_declare(name, passive=True).message_count
                except Exception:  # never declared: nothing waits in it
                    sizes[name] = 0
        return sizes

    def quiesce(self, limit: float) -> float:
        """Wait (bounded) until queues are drained, webhooks processed and delivered, payments settled or
        expired, refunds and settlements decided. Returns the seconds it took."""
        from payments.tasks import settle

        started = time.monotonic()
        settle.delay()
        while time.monotonic() - started < limit:
            facts = self.stuck()
            if not any(facts.values()):
                break
            print(f"[soak] +{time.monotonic() - started:.0f}s still settling: "
                  f"{ {name: n for name, n in facts.items() if n} }", flush=True)
            time.sleep(5)
        return round(time.monotonic() - started, 1)

    def stuck(self) -> dict:
        from bench.soak.reconcile import gather

        close_old_connections()
        return gather(since=self.since, books={}, nano_sends=[], nano_refund_sends=0, receiver=self.receiver,
                      queue_sizes=self.queue_sizes(), server_errors=[], windows=[],
                      endpoint_ids=self.endpoint_ids)["stuck"]

    def main(self) -> int:
        try:
            self.prepare()
        except BrokerUnavailable as exc:
            print(f"[soak] skipped: {exc}", flush=True)
            return 0
        self.receiver.start()
        sellers = self.sellers()
        self.endpoint_ids = [seller["endpoint"] for seller in sellers]
        self.stack.start()
        try:
            return self.soak(sellers)
        finally:
            self.stop.set()
            self.stack.stop()
            self.receiver.stop()

    def soak(self, sellers: list[dict]) -> int:
        from payments.demo import DEMO_STAFF_TOTP_SECRET, STAFF

        sandbox = self.stack.url("sandbox")
        for twin in ("razorpay", "coinpay"):
            requests.post(f"{sandbox}/{twin}/_sandbox/config", json={"duplicate_rate": 0.2}, timeout=10)
        for seller in sellers:
            self.nano("send", source="faucet", destination=seller["nano_address"], amount=str(PREFUND_RAW),
                      auto_receive=True)
        before = {entry["hash"] for entry in self.faucet_sends()}
        refunds_before = {seller["nano_address"]: self._sends_from(seller["nano_address"]) for seller in sellers}

        t0 = time.time()
        config = {"web": self.stack.web_urls, "sandbox": sandbox, "sellers": sellers, "seconds": self.seconds,
                  "users": self.users, "t0": t0, "grace_seconds": 15,
                  "staff": {"username": STAFF[0], "password": STAFF[1], "totp": DEMO_STAFF_TOTP_SECRET}}
        (RUN_DIR / "load.json").write_text(json.dumps(config))
        with open(RUN_DIR / "load.log", "w") as log:  # the child keeps its own copy of the descriptor
            load = subprocess.Popen([sys.executable, "-m", "bench.soak.load", str(RUN_DIR / "load.json"),
                                     str(RUN_DIR / "load-result.json")], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        print(f"[soak] {self.users} users for {self.seconds}s, faults {self.selected}, broker {self.stack.broker}",
              flush=True)
        slots = next(seller for seller in sellers if seller["currency"] == "INR")
        runner = FaultRunner(self.stack, slots["slug"], slots["api_key"], SLOT_PRICE)
        threads = [threading.Thread(target=self.run_faults, args=(runner, t0)),
                   threading.Thread(target=self.seller_wallets, daemon=True),
                   threading.Thread(target=self.settler, args=(max(20.0, self.seconds / 5),), daemon=True)]
        for thread in threads:
            thread.start()
        load.wait(self.seconds + 300)
        threads[0].join()
        load_result = json.loads((RUN_DIR / "load-result.json").read_text())
        print("[soak] load done; waiting for the platform to settle", flush=True)
        quiet_after = self.quiesce(limit=max(150.0, min(300.0, self.seconds)))
        self.stop.set()

        from bench.soak.reconcile import gather, judge

        close_old_connections()
        books = requests.get(f"{sandbox}/_sandbox/books", timeout=30).json()
        addresses = {seller["nano_address"] for seller in sellers}
        nano_sends = [e for e in self.faucet_sends() if e["hash"] not in before and e["account"] in addresses]
        nano_refunds = sum(self._sends_from(a) - refunds_before[a] for a in addresses)
        facts = gather(since=self.since, books=books, nano_sends=nano_sends, nano_refund_sends=nano_refunds,
                       receiver=self.receiver,
                       queue_sizes=self.queue_sizes(), server_errors=load_result["server_errors"],
                       windows=self.faults, endpoint_ids=self.endpoint_ids)
        verdict = judge(facts)
        result = self.report(load_result, verdict, quiet_after)
        self.result_path.parent.mkdir(parents=True, exist_ok=True)
        self.result_path.write_text(json.dumps(result, indent=2) + "\n")
        self.summary(result)
        return 0 if result["reconciled"] else 1

    def _sends_from(self, address: str) -> int:
        history = self.nano("account_history", account=address, count="1000000").get("history") or []
        return sum(1 for entry in history if entry["type"] == "send")

    def report(self, load: dict, verdict: dict, quiet_after: float) -> dict:
        connection_errors = load["connection_errors"]
        kill = [w for w in self.faults if w["number"] == 2]
        in_kill = sum(1 for e in connection_errors if any(w["start_s"] <= e["t"] <= w["end_s"] + 5 for w in kill))
        return {
            "run": {"finished": utc(time.time()), "seconds": self.seconds, "users": self.users,
                    "broker": self.stack.broker, "database": "postgresql", "faults": self.selected,
                    "load_average": os.getloadavg(), "cpus": os.cpu_count()},
            "load": {"requests": load["total"]["requests"], "failures": load["total"]["failures"],
                     "p50_ms": load["total"]["p50_ms"], "p99_ms": load["total"]["p99_ms"],
                     "endpoints": load["endpoints"], "outcomes": load["outcomes"],
                     "connection_errors": {"in_web_kill_window": in_kill,
                                           "elsewhere": len(connection_errors) - in_kill}},
            "faults": self.faults,
            "quiescence_seconds": quiet_after,
            "reconciliation": verdict["checks"],
            "reconciled": verdict["reconciled"],
        }

    def summary(self, result: dict) -> None:
        load = result["load"]
        print(f"\nSoak: {result['run']['seconds']} s, {result['run']['users']} users, broker {result['run']['broker']}")
        print(f"  load: {load['requests']} requests, p50 {load['p50_ms']} ms, p99 {load['p99_ms']} ms")
        for fault in result["faults"]:
            print(f"  fault {fault['number']} {fault['name']}: {fault['start']} → {fault['end']}, "
                  f"recovered={fault.get('recovered')}")
        for name, check in result["reconciliation"].items():
            print(f"  {'ok  ' if check['ok'] else 'FAIL'} {name}")
        print(f"  reconciled: {str(result['reconciled']).lower()}  ({self.result_path})")


if __name__ == "__main__":
    sys.exit(Soak().main())

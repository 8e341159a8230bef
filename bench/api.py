"""API benchmark: gunicorn on PostgreSQL, 16 concurrent clients, each looping
POST /api/v1/orders/ then POST /api/v1/orders/<id>/payments/ {"method": "nano"}
(with Idempotency-Key headers, as real clients send), against a bare DRF view that
returns a constant (mounted by bench/urls.py), measured in the same run on the same server,
alternating in --rounds (4 by default) so that other load on the machine hits both.

A third scenario, the floor (bench/bare_view.py FloorApi: the API's own key auth and
throttle, the parsed body, one transaction with one statement), alternates with them. The
floor is the reference: the cheapest request a real endpoint can be. The bare view stays
as context (`cost_in_bare_requests`).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kassa_api REDIS_URL=redis://127.0.0.1:6379/5 \
        .venv/bin/python bench/api.py [--seconds 20] [--rounds 4] [--concurrency 16] [--port N]

Targets (P4): API requests/s at least 0.45 of the floor's in the same run (`api_over_floor`),
and API p99 under 150 ms.
Prints JSON and writes bench/results/api.json.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kassa_api")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from bench.database import ensure_database  # noqa: E402

ensure_database(os.environ["DATABASE_URL"])

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from bench.common import (  # noqa: E402
    analyze_tables,
    cpu_spent,
    free_port,
    gunicorn_workers,
    percentile,
    server_cpu,
    start_gunicorn,
)
from sellers.models import Seller  # noqa: E402
from sellers.services import api_key_create, payout_destination_set  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "api.json"
TARGET_OVER_FLOOR = 0.45
BASELINES = ("bare", "floor")


def seed() -> str:
    """A seller that accepts Nano, and a fresh API key for it."""
    from tests.factories import nano_address

    call_command("migrate", "--noinput", verbosity=0)
    seller, _ = Seller.objects.get_or_create(slug="bench-api", defaults={"name": "Bench API", "timezone": "UTC",
                                                                        "default_currency": "INR"})
    seller.enabled_methods = ["nano"]
    seller.save(update_fields=["enabled_methods"])
    payout_destination_set(seller=seller, method="nano", value=nano_address("bench-api"))
    _, key = api_key_create(seller=seller, name="bench")
    analyze_tables()
    return key


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = {}
        self.statuses: dict[str, dict[int, int]] = {}

    def add(self, name: str, ms: float, status: int) -> None:
        with self.lock:
            self.latencies.setdefault(name, []).append(ms)
            counts = self.statuses.setdefault(name, {})
            counts[status] = counts.get(status, 0) + 1


def _post(connection, path, body, headers, stats, name):
    started = time.perf_counter()
    connection.request("POST", path, body=json.dumps(body), headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
    response = connection.getresponse()
    payload = response.read()
    stats.add(name, (time.perf_counter() - started) * 1000, response.status)
    return response.status, payload


def run(port: int, key: str, seconds: float, concurrency: int, flow: str, server_pid: int) -> dict:
    """One phase of `flow` for `seconds`: the raw figures (summarize() turns phases into a result)."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    stats, barrier, stop = Stats(), threading.Barrier(concurrency + 1), threading.Event()
    errors: list[str] = []

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        barrier.wait()
        n = 0
        while not stop.is_set():
            n += 1
            try:
                if flow in BASELINES:
                    _post(connection, f"/api/v1/bench/{flow}/", {"method": "nano"}, headers, stats, flow)
                    continue
                # Varying totals keep Nano's unique-amount slots realistic (not one crowded base).
                amount = 10_000 + (index * 100_003 + n * 7_919 + int(time.time() * 1000)) % 5_000_000
                body = {"reference": f"B-{index}-{n}", "currency": "INR", "customer_email": "b@example.com",
                        "items": [{"name": "Bench item", "unit_amount": amount, "quantity": 1}]}
                status, payload = _post(connection, "/api/v1/orders/", body, headers, stats, "orders_create")
                if status != 201:
                    errors.append(payload[:200].decode("utf-8", "replace"))
                    continue
                order_id = json.loads(payload)["id"]
                status, payload = _post(connection, f"/api/v1/orders/{order_id}/payments/", {"method": "nano"},
                                        headers, stats, "payments_start")
                if status != 201:
                    errors.append(payload[:200].decode("utf-8", "replace"))
            except (OSError, http.client.HTTPException) as exc:
                errors.append(repr(exc))
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    barrier.wait()
    cpu_before, client_before, started = server_cpu(server_pid), os.times(), time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    cpu_after, client_after = server_cpu(server_pid), os.times()
    gunicorn = cpu_spent(cpu_before, cpu_after, only=gunicorn_workers(server_pid))
    return {"stats": stats, "elapsed": elapsed, "errors": errors,
            "cpu": {"gunicorn": gunicorn, "postgres": cpu_spent(cpu_before, cpu_after) - gunicorn,
                    "client": (client_after.user + client_after.system) - (client_before.user + client_before.system)}}


def summarize(phases: list[dict], flow: str) -> dict:
    """The phases of one flow as one result: totals over their summed time, pooled latencies."""
    latencies: dict[str, list[float]] = {}
    statuses: dict[str, dict[int, int]] = {}
    for phase in phases:
        for name, values in phase["stats"].latencies.items():
            latencies.setdefault(name, []).extend(values)
            for status, count in phase["stats"].statuses[name].items():
                statuses.setdefault(name, {})[status] = statuses.setdefault(name, {}).get(status, 0) + count
    elapsed = sum(phase["elapsed"] for phase in phases)
    errors = [error for phase in phases for error in phase["errors"]]
    every = [ms for values in latencies.values() for ms in values]
    result = {
        "requests": len(every), "seconds": round(elapsed, 2), "requests_per_second": round(len(every) / elapsed, 1),
        "p50_ms": round(percentile(every, 50), 2), "p99_ms": round(percentile(every, 99), 2),
        "by_endpoint": {name: {"requests": len(values), "p50_ms": round(percentile(values, 50), 2),
                               "p99_ms": round(percentile(values, 99), 2),
                               "statuses": {str(k): v for k, v in sorted(statuses[name].items())}}
                        for name, values in latencies.items()},
        "errors": len(errors), "first_errors": errors[:3],
        # Where the 2 CPUs went, per request: Django in gunicorn, our database's backends, the load client.
        "cpu_ms_per_request": {name: round(sum(phase["cpu"][name] for phase in phases) * 1000 / max(1, len(every)), 3)
                               for name in ("gunicorn", "postgres", "client")},
    }
    if flow == "api":
        result["flows_per_second"] = round(len(latencies.get("payments_start", [])) / elapsed, 1)
    return result


def _per_second(phase: dict) -> float:
    return sum(len(values) for values in phase["stats"].latencies.values()) / phase["elapsed"]


def _ratio(result: dict, bare: dict) -> float:
    return result["requests_per_second"] / bare["requests_per_second"] if bare["requests_per_second"] else 0.0


def _round_ratios(phases: list[dict], bare_phases: list[dict]) -> list[float]:
    return [round(_per_second(phase) / _per_second(bare), 3) for bare, phase in zip(bare_phases, phases, strict=True)]


def _cost(ratio: float) -> float:
    return round(1 / ratio, 2) if ratio else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--port", type=int, default=0, help="gunicorn port (default: a free one)")
    # As bench/webhooks.py: single-threaded workers, 4 per core (p99 187 ms vs 260-310 ms at 4x4).
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 2) * 4)
    parser.add_argument("--threads", type=int, default=1)
    # Bare and API alternate in rounds, so that a neighbour's burst on this shared machine
    # (seen: the bare view alone moving 1,650-1,890 req/s within minutes) hits both alike.
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()

    key = seed()
    load_before = list(os.getloadavg())
    env = {"DJANGO_SETTINGS_MODULE": "bench.settings",  # mounts the baselines (bench/urls.py)
           "DEBUG": "false", "SECRET_KEY": "bench-only-secret-key-" + "x" * 40,
           "SANDBOX_MODE": "true",
           "SECURE_SSL_REDIRECT": "false", "API_THROTTLE_RATE": "1000000/min", "LOG_LEVEL": "WARNING",
           "DATABASE_URL": os.environ["DATABASE_URL"], "REDIS_URL": os.environ.get("REDIS_URL", "")}
    args.port = args.port or free_port()
    server = start_gunicorn(args.port, env, workers=args.workers, threads=args.threads)
    try:
        run(args.port, key, 3, args.concurrency, "bare", server.pid)  # warm-up: connections, caches, workers
        run(args.port, key, 3, args.concurrency, "api", server.pid)
        phases: dict[str, list[dict]] = {"bare": [], "floor": [], "api": []}
        for _round in range(args.rounds):
            for flow in phases:
                phases[flow].append(run(args.port, key, args.seconds / args.rounds, args.concurrency, flow,
                                        server.pid))
        bare, floor, api = (summarize(phases[flow], flow) for flow in ("bare", "floor", "api"))
    finally:
        server.terminate()
        server.wait(timeout=30)

    ratio = _ratio(api, bare)
    floor_ratio = _ratio(floor, bare)
    over_floor = _ratio(api, floor)
    report = {
        "benchmark": "api",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    # Client, gunicorn and PostgreSQL share these CPUs; a high load means noisy numbers.
                    "load_average_before": load_before, "load_average_after": list(os.getloadavg())},
        "setup": {"server": f"gunicorn gthread, {args.workers} workers x {args.threads} threads, DEBUG=false",
                  "database": "postgresql", "cache": "redis" if env["REDIS_URL"] else "locmem",
                  "concurrency": args.concurrency, "seconds_per_scenario": args.seconds,
                  "rounds": f"{args.rounds}, bare, floor and API alternating",
                  "client": "python http.client keep-alive threads on the same machine",
                  "idempotency_keys": True,
                  "flow": "POST /api/v1/orders/ then POST /api/v1/orders/<id>/payments/ {method: nano}"},
        "bare_view": bare,
        "floor_view": floor,
        "api": api,
        "api_over_floor": round(over_floor, 3),
        "round_api_over_floor": _round_ratios(phases["api"], phases["floor"]),
        # Context: both against the bare view.
        "throughput_ratio": round(ratio, 3),
        "floor_ratio": round(floor_ratio, 3),
        "rounds": args.rounds,
        # Each round's ratio: how much the machine's other load moved it.
        "round_ratios": _round_ratios(phases["api"], phases["bare"]),
        "round_floor_ratios": _round_ratios(phases["floor"], phases["bare"]),
        # The machine's time per request, counting a bare request as 1: what the floor
        # spends, what the target allows, what the API takes. Target minus floor is the
        # budget for an endpoint's own work.
        "cost_in_bare_requests": {"floor": _cost(floor_ratio), "target": _cost(floor_ratio * TARGET_OVER_FLOOR),
                                  "api": _cost(ratio)},
        "targets": {"api_over_floor_at_least": TARGET_OVER_FLOOR, "api_over_floor_met": over_floor >= TARGET_OVER_FLOOR,
                    "p99_ms_under": 150, "p99_met": api["p99_ms"] < 150},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

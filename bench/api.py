"""API benchmark: gunicorn on PostgreSQL, 16 concurrent clients, each looping
POST /api/v1/orders/ then POST /api/v1/orders/<id>/payments/ {"method": "nano"}
(with Idempotency-Key headers, as real clients send), against a bare DRF view that
returns a constant (BENCH_BARE_VIEW=1), measured in the same run on the same server.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kassa_api REDIS_URL=redis://127.0.0.1:6379/5 \
        .venv/bin/python bench/api.py [--seconds 20] [--concurrency 16] [--port 8105]

Targets (issue 6): API requests/s at least 35 % of the bare view's, and API p99 under 150 ms.
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

from bench.common import analyze_tables, cpu_spent, gunicorn_workers, percentile, server_cpu, start_gunicorn  # noqa: E402
from sellers.models import Seller  # noqa: E402
from sellers.services import api_key_create, payout_destination_set  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "api.json"


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
                if flow == "bare":
                    _post(connection, "/api/v1/bench/bare/", {"method": "nano"}, headers, stats, "bare")
                    continue
                # Varying totals keep Nano's unique-amount slots realistic (not one crowded base).
                amount = 10_000 + (index * 100_003 + n * 7_919) % 5_000_000
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
    workers = gunicorn_workers(server_pid)
    gunicorn = cpu_spent(cpu_before, cpu_after, only=workers)
    postgres = cpu_spent(cpu_before, cpu_after) - gunicorn
    client = (client_after.user + client_after.system) - (client_before.user + client_before.system)
    every = [ms for values in stats.latencies.values() for ms in values]
    result = {
        "requests": len(every), "seconds": round(elapsed, 2), "requests_per_second": round(len(every) / elapsed, 1),
        "p50_ms": round(percentile(every, 50), 2), "p99_ms": round(percentile(every, 99), 2),
        "by_endpoint": {name: {"requests": len(values), "p50_ms": round(percentile(values, 50), 2),
                               "p99_ms": round(percentile(values, 99), 2),
                               "statuses": {str(k): v for k, v in sorted(stats.statuses[name].items())}}
                        for name, values in stats.latencies.items()},
        "errors": len(errors), "first_errors": errors[:3],
        # Where the 2 CPUs went, per request: Django in gunicorn, our database's backends, the load client.
        "cpu_ms_per_request": {name: round(value * 1000 / max(1, len(every)), 3)
                               for name, value in (("gunicorn", gunicorn), ("postgres", postgres),
                                                   ("client", client))},
    }
    if flow == "api":
        result["flows_per_second"] = round(len(stats.latencies.get("payments_start", [])) / elapsed, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--port", type=int, default=8105)
    # As bench/webhooks.py: single-threaded workers, 4 per core (p99 187 ms vs 260-310 ms at 4x4).
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 2) * 4)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    key = seed()
    load_before = list(os.getloadavg())
    env = {"BENCH_BARE_VIEW": "1", "DEBUG": "false", "SECRET_KEY": "bench-only-secret", "SANDBOX_MODE": "true",
           "SECURE_SSL_REDIRECT": "false", "API_THROTTLE_RATE": "1000000/min", "LOG_LEVEL": "WARNING",
           "DATABASE_URL": os.environ["DATABASE_URL"], "REDIS_URL": os.environ.get("REDIS_URL", "")}
    server = start_gunicorn(args.port, env, workers=args.workers, threads=args.threads)
    try:
        run(args.port, key, 3, args.concurrency, "bare", server.pid)  # warm-up: connections, caches, workers
        run(args.port, key, 3, args.concurrency, "api", server.pid)
        bare = run(args.port, key, args.seconds, args.concurrency, "bare", server.pid)
        api = run(args.port, key, args.seconds, args.concurrency, "api", server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)

    ratio = api["requests_per_second"] / bare["requests_per_second"] if bare["requests_per_second"] else 0.0
    report = {
        "benchmark": "api",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    # Client, gunicorn and PostgreSQL share these CPUs; a high load means noisy numbers.
                    "load_average_before": load_before, "load_average_after": list(os.getloadavg())},
        "setup": {"server": f"gunicorn gthread, {args.workers} workers x {args.threads} threads, DEBUG=false",
                  "database": "postgresql", "cache": "redis" if env["REDIS_URL"] else "locmem",
                  "concurrency": args.concurrency, "seconds_per_scenario": args.seconds,
                  "client": "python http.client keep-alive threads on the same machine",
                  "idempotency_keys": True,
                  "flow": "POST /api/v1/orders/ then POST /api/v1/orders/<id>/payments/ {method: nano}"},
        "bare_view": bare,
        "api": api,
        "throughput_ratio": round(ratio, 3),
        "targets": {"ratio_at_least": 0.35, "ratio_met": ratio >= 0.35,
                    "p99_ms_under": 150, "p99_met": api["p99_ms"] < 150},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

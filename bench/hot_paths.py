"""In-process timings and query counts for the two hot paths, robust to a loaded machine:
API order create, API payment start (Nano), and observation_apply completing a Nano
payment. Runs on PostgreSQL through Django's test client (the full middleware + DRF stack).

It also counts the Python function calls of one API request against one request to
bench/api.py's floor view, in the same run. Unlike requests per second on a shared 2-core
machine, the count is the same every run, so one change can be judged alone; its ratio
(`python_calls.api_over_floor`) tracks bench/api.py's `api_over_floor` closely.

    .venv/bin/python -m bench.hot_paths [--flows 200] [--profile] [--queries]

--queries prints every SQL statement of one flow; --profile prints the top of a cProfile.
Writes bench/results/hot_paths.json.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "hot_paths.json"
PG_URL = "postgres://postgres@127.0.0.1:5432/kassa_bench_api"


def _setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DATABASE_URL", PG_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")  # mounts the floor view
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("API_THROTTLE_RATE", "1000000/min")
    # As bench/api.py runs gunicorn: production settings (DEBUG off), the sandbox's Nano rates.
    for name, value in {"DEBUG": "false", "SECRET_KEY": "bench-only-secret-key-" + "x" * 40,
                        "SANDBOX_MODE": "true", "SECURE_SSL_REDIRECT": "false",
                        "ALLOWED_HOSTS": "testserver"}.items():
        os.environ.setdefault(name, value)
    from bench.database import ensure_database

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _summary(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"n": len(values), "mean_ms": _ms(statistics.fmean(values)), "p50_ms": _ms(ordered[len(ordered) // 2]),
            "p90_ms": _ms(ordered[int(len(ordered) * 0.9)])}


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flows", type=int, default=200)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--queries", action="store_true")
    args = parser.parse_args()
    _setup()

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.api import seed
    from payments.models import Payment
    from payments.providers.base import Observation
    from payments.services import observation_apply

    key = seed()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")

    def post(path: str, body: dict):
        return client.post(path, json.dumps(body), content_type="application/json",
                           headers={"Idempotency-Key": uuid.uuid4().hex})

    def order_body(n: int) -> dict:
        amount = 10_000 + (n * 7_919) % 5_000_000
        return {"reference": f"H-{n}", "currency": "INR", "customer_email": "b@example.com",
                "items": [{"name": "Bench item", "unit_amount": amount, "quantity": 1}]}

    def one_flow(n: int) -> tuple[float, float, str]:
        started = time.perf_counter()
        response = post("/api/v1/orders/", order_body(n))
        assert response.status_code == 201, response.content
        middle = time.perf_counter()
        response = post(f"/api/v1/orders/{response.json()['id']}/payments/", {"method": "nano"})
        assert response.status_code == 201, response.content
        return middle - started, time.perf_counter() - middle, response.json()["id"]

    def complete(payment_id: str) -> float:
        payment = Payment.objects.get(pk=payment_id)
        obs = Observation(provider="nano", external_tx_id=uuid.uuid4().hex.upper() * 2, confirmed=True,
                          amount=payment.amount_due * 10**24, pay_to=payment.pay_to, source_account="nano_1src")
        started = time.perf_counter()
        result = observation_apply(observation=obs)
        elapsed = time.perf_counter() - started
        assert result.payment.status == "completed", result.payment.status
        return elapsed

    base = int(time.time()) % 1_000_000 * 1000
    for n in range(20):  # warm up: imports, connection, caches
        complete(one_flow(base + n)[2])

    counts = {}
    with CaptureQueriesContext(connection) as q_order:
        response = post("/api/v1/orders/", order_body(base + 100))
    with CaptureQueriesContext(connection) as q_start:
        response = post(f"/api/v1/orders/{response.json()['id']}/payments/", {"method": "nano"})
    payment_id = response.json()["id"]
    payment = Payment.objects.get(pk=payment_id)
    obs = Observation(provider="nano", external_tx_id=uuid.uuid4().hex.upper() * 2, confirmed=True,
                      amount=payment.amount_due * 10**24, pay_to=payment.pay_to, source_account="nano_1src")
    with CaptureQueriesContext(connection) as q_apply:
        observation_apply(observation=obs)
    for name, captured in (("orders_create", q_order), ("payments_start", q_start), ("observation_apply", q_apply)):
        counts[name] = len(captured.captured_queries)
        if args.queries:
            print(f"--- {name}: {len(captured.captured_queries)} queries", file=sys.stderr)
            for query in captured.captured_queries:
                print(f"  [{query['time']}] {query['sql'][:220]}", file=sys.stderr)

    def calls(work, repeat: int = 20) -> float:
        """Python function calls per run of `work` (deterministic for the same code path)."""
        work()  # warm: first-use caches
        counter = cProfile.Profile()
        counter.enable()
        for _ in range(repeat):
            work()
        counter.disable()
        return pstats.Stats(counter, stream=io.StringIO()).total_calls / repeat

    serial = iter(range(base + 500, base + 1000))
    floor_calls = calls(lambda: post("/api/v1/bench/floor/", {"method": "nano"}))
    flow_calls = calls(lambda: one_flow(next(serial)))
    python_calls = {"floor_per_request": round(floor_calls), "api_per_request": round(flow_calls / 2),
                    "api_over_floor": round(floor_calls / (flow_calls / 2), 3)}

    profiler = cProfile.Profile() if args.profile else None
    create_t, start_t, apply_t = [], [], []
    if profiler:
        profiler.enable()
    cpu_started, wall_started = time.process_time(), time.perf_counter()
    for n in range(args.flows):
        created, started, payment_id = one_flow(base + 1000 + n)
        create_t.append(created)
        start_t.append(started)
        apply_t.append(complete(payment_id))
    cpu, wall = time.process_time() - cpu_started, time.perf_counter() - wall_started
    if profiler:
        profiler.disable()
        order = os.environ.get("PROFILE_SORT", "cumulative")  # or tottime
        pstats.Stats(profiler, stream=sys.stderr).sort_stats(order).print_stats(60)

    report = {
        "benchmark": "hot_paths",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average": list(os.getloadavg())},
        "setup": "in-process django.test.Client on PostgreSQL, one thread; sandbox Nano provider (no RPC at start)",
        "queries": counts,
        "orders_create": _summary(create_t),
        "payments_start": _summary(start_t),
        "observation_apply": _summary(apply_t),
        # This process's CPU per flow (create + start + apply), the rest is waiting on PostgreSQL.
        "per_flow": {"wall_ms": _ms(wall / args.flows), "cpu_ms": _ms(cpu / args.flows)},
        "python_calls": python_calls,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()

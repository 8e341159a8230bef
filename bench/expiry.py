"""Expiry benchmark (P2): the beat sweep against a per-row loop, same run, PostgreSQL.

--stale pending payments (100,000 by default) past their expiry are expired by
`payments.services.payment_expire_stale` (what the `expire-stale-payments` beat entry runs):
claimed in batches, one UPDATE … RETURNING per batch, events from the returned ids, orders
by `orders.services.orders_expire`. --loop other pending payments (2,000) are expired one by
one with `payment_transition(to_status="expired")`, the per-row path. Both are timed per
payment; the target is the sweep at ≥ 20× the loop. No seller has a webhook endpoint here,
so neither side writes outbox rows or publishes Celery messages.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kassa_expiry \\
        .venv/bin/python -m bench.expiry [--stale 100000] [--loop 2000]

Writes bench/results/expiry.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "expiry.json"
TARGET_RATIO = 20
SELLERS = 100
CHUNK = 5_000


def _setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kassa_expiry")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DEBUG", "false")  # no connection.queries log in the timed loops
    os.environ.setdefault("SANDBOX_MODE", "true")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from bench.database import ensure_database

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)


def _seed(count: int, expires_at, label: str, sellers: list) -> list:
    """`count` open orders, each with one pending Nano payment expiring at `expires_at`."""
    from django.utils import timezone

    from orders.models import Order
    from payments.models import Payment

    ids, now = [], timezone.now()
    for start in range(0, count, CHUNK):
        orders = Order.objects.bulk_create(
            Order(seller=sellers[i % len(sellers)], currency="INR", amount=10_000 + i, reference=f"{label}-{i}")
            for i in range(start, min(count, start + CHUNK))
        )
        payments = Payment.objects.bulk_create(
            Payment(
                order=order,
                seller_id=order.seller_id,
                method="nano",
                currency="INR",
                amount=order.amount,
                pay_currency="XNO",
                amount_due=order.amount * 1000 + 1,
                pay_to=f"nano_bench_{label}_{i}",
                amount_reserved=True,
                reserved_until=now + timedelta(hours=25),
                expires_at=expires_at,
            )
            for i, order in enumerate(orders, start)
        )
        ids += [payment.pk for payment in payments]
    return ids


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stale", type=int, default=100_000)
    parser.add_argument("--loop", type=int, default=2_000)
    args = parser.parse_args()
    _setup()
    from django.db import connection
    from django.utils import timezone

    from bench.common import analyze_tables
    from orders.actors import Actor
    from payments.models import Payment
    from payments.services import payment_expire_stale, payment_transition
    from sellers.models import Seller

    Payment.objects.filter(status=Payment.Status.PENDING).update(
        status=Payment.Status.CANCELLED, amount_reserved=False
    )  # an earlier run's leftovers
    sellers = [
        Seller.objects.get_or_create(slug=f"bench-expiry-{i}", defaults={"name": f"Bench {i}"})[0]
        for i in range(SELLERS)
    ]
    run = timezone.now().strftime("%H%M%S")
    seed_started = time.perf_counter()
    _seed(args.stale, timezone.now() - timedelta(hours=2), f"s{run}", sellers)
    loop_ids = _seed(args.loop, timezone.now() + timedelta(hours=2), f"l{run}", sellers)
    analyze_tables()
    seed_seconds = time.perf_counter() - seed_started
    load_before = list(os.getloadavg())

    started = time.perf_counter()
    swept = payment_expire_stale()
    sweep_seconds = time.perf_counter() - started

    system = Actor.system("bench")
    started = time.perf_counter()
    for pk in loop_ids:
        payment_transition(payment_id=pk, to_status="expired", actor=system)
    loop_seconds = time.perf_counter() - started

    sweep_us = sweep_seconds * 1e6 / max(1, swept)
    loop_us = loop_seconds * 1e6 / max(1, len(loop_ids))
    ratio = loop_us / sweep_us if sweep_us else 0.0
    report = {
        "benchmark": "expiry",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_before": load_before,
            "load_average_after": list(os.getloadavg()),
        },
        "setup": {
            "database": connection.vendor,
            "sellers": SELLERS,
            "webhook_endpoints": 0,
            "seed_seconds": round(seed_seconds, 1),
            "sweep": "payment_expire_stale(): batches of 1,000, UPDATE … RETURNING, events by INSERT … SELECT",
            "loop": "payment_transition(to_status='expired') per payment",
        },
        "sweep": {"payments": swept, "seconds": round(sweep_seconds, 2), "us_per_payment": round(sweep_us, 1)},
        "loop": {"payments": len(loop_ids), "seconds": round(loop_seconds, 2), "us_per_payment": round(loop_us, 1)},
        "ratio": round(ratio, 1),
        "targets": {"ratio_at_least": TARGET_RATIO, "ratio_met": ratio >= TARGET_RATIO},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()

"""Dashboard benchmark: one seller with 1,000,000 orders (+ payments, ledger) over two years
and one with 10,000, on PostgreSQL, generated with generate_series.

Measures server time in-process with django.test.Client (no network): p50/p95 of
/dashboard/ (30 d and 365 d) and /dashboard/orders/ filtered page 1, for both sizes,
the 1M/10k ratios, the overview without the rollup (for comparison), and the peak RSS
of a child process that streams the 1M-row CSV export.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kassa_bench_dash .venv/bin/python bench/dashboard.py
    [--big 1000000] [--small 10000] [--runs 30] [--skip-csv]

Prints JSON and writes bench/results/dashboard.json. Data is generated once and reused.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kassa_bench_dash")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from bench.database import ensure_database  # noqa: E402

ensure_database(os.environ["DATABASE_URL"])

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402

from payments.analytics import daily_stats_refresh, local_today  # noqa: E402
from sellers.models import DailyStatState, Seller, SellerMembership  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "dashboard.json"

ORDERS_SQL = """
INSERT INTO orders_order (id, reference, status, currency, amount, customer_email, metadata, checkout_token,
    partner_user_id, delivery_info, fulfilled_at, paid_at, created_at, updated_at, seller_id)
SELECT md5(%(tag)s || i)::uuid, 'B-' || i,
       CASE WHEN r < 65 THEN 'paid' WHEN r < 70 THEN 'fulfilled' WHEN r < 73 THEN 'refunded'
            WHEN r < 88 THEN 'expired' ELSE 'open' END,
       'INR', amt, 'buyer' || (i %% 5000) || '@example.com', '{}'::jsonb, %(tag)s || i, '', '',
       CASE WHEN r >= 65 AND r < 70 THEN ts + interval '1 day' END,
       CASE WHEN r < 73 THEN ts + interval '2 minutes' END, ts, ts, %(seller)s
FROM (SELECT i, (i * 7919) %% 100 AS r, 1000 + (i * 37 %% 500) * 100 AS amt,
             now() - (i::float8 / %(n)s) * interval '730 days' AS ts
      FROM generate_series(1::bigint, %(n)s::bigint) AS i) AS g
"""

PAYMENTS_SQL = """
INSERT INTO payments_payment (id, method, status, exceptions, review_status, currency, amount, pay_currency,
    amount_due, amount_received, rate, rate_source, pay_to, payment_uri, provider_ref, checkout_params,
    amount_reserved, reserved_until, expires_at, confirmed_at, completed_at, tx_id, refunded_amount,
    last_polled_at, last_webhook_at, created_at, updated_at, order_id, seller_id)
SELECT md5('p' || %(tag)s || i)::uuid, (ARRAY['nano', 'razorpay', 'coinpay'])[1 + i %% 3],
       CASE WHEN r < 70 THEN 'completed' WHEN r < 73 THEN 'refunded' WHEN r < 88 THEN 'expired' ELSE 'failed' END,
       '[]'::jsonb, '', 'INR', amt, 'INR', amt, CASE WHEN r < 73 THEN amt::text ELSE '0' END, NULL, '', '', '', '',
       '{}'::jsonb, false, NULL, ts + interval '30 minutes', NULL,
       CASE WHEN r < 73 THEN ts + interval '2 minutes' END,
       CASE WHEN r < 73 THEN 'tx' || %(tag)s || i ELSE '' END,
       CASE WHEN r >= 70 AND r < 73 THEN amt ELSE 0 END, NULL, NULL,
       ts + interval '1 minute', ts + interval '1 minute', md5(%(tag)s || i)::uuid, %(seller)s
FROM (SELECT i, (i * 7919) %% 100 AS r, 1000 + (i * 37 %% 500) * 100 AS amt,
             now() - (i::float8 / %(n)s) * interval '730 days' AS ts
      FROM generate_series(1::bigint, %(n)s::bigint) AS i) AS g
WHERE r < 88 OR r >= 92
"""

LEDGER_SQL = """
INSERT INTO payments_ledgerentry (kind, custody, method, currency, gross, fee, net, fee_bps, memo, created_at,
    seller_id, payment_id)
SELECT 'payment', CASE WHEN i %% 3 = 0 THEN 'seller' ELSE 'platform' END,
       (ARRAY['nano', 'razorpay', 'coinpay'])[1 + i %% 3], 'INR', amt, (amt * 250 + 5000) / 10000,
       amt - (amt * 250 + 5000) / 10000, 250, '', ts + interval '2 minutes', %(seller)s, md5('p' || %(tag)s || i)::uuid
FROM (SELECT i, (i * 7919) %% 100 AS r, 1000 + (i * 37 %% 500) * 100 AS amt,
             now() - (i::float8 / %(n)s) * interval '730 days' AS ts
      FROM generate_series(1::bigint, %(n)s::bigint) AS i) AS g
WHERE r < 73
UNION ALL
SELECT 'refund', CASE WHEN i %% 3 = 0 THEN 'seller' ELSE 'platform' END,
       (ARRAY['nano', 'razorpay', 'coinpay'])[1 + i %% 3], 'INR', -amt, 0, -amt, 250, '', ts + interval '1 day',
       %(seller)s, md5('p' || %(tag)s || i)::uuid
FROM (SELECT i, (i * 7919) %% 100 AS r, 1000 + (i * 37 %% 500) * 100 AS amt,
             now() - (i::float8 / %(n)s) * interval '730 days' AS ts
      FROM generate_series(1::bigint, %(n)s::bigint) AS i) AS g
WHERE r >= 70 AND r < 73
"""


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def ensure_seller(slug: str, n: int) -> tuple[Seller, object, dict]:
    seller, _ = Seller.objects.get_or_create(slug=slug, defaults={"name": f"Bench {n:,}", "timezone": "Asia/Kolkata",
                                                                  "default_currency": "INR"})
    user, _ = get_user_model().objects.get_or_create(username=f"{slug}-owner")
    SellerMembership.objects.get_or_create(user=user, seller=seller)
    info = {"orders": seller.orders.count()}
    if info["orders"] != n:
        if info["orders"]:
            raise SystemExit(f"{slug} has {info['orders']} orders, expected {n}; drop the bench database to rebuild.")
        params = {"tag": f"{slug}-", "seller": seller.pk, "n": n}
        for name, sql in (("orders", ORDERS_SQL), ("payments", PAYMENTS_SQL), ("ledger", LEDGER_SQL)):
            started = time.perf_counter()
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, params)
                rows = cursor.rowcount
            info[f"generate_{name}_s"] = round(time.perf_counter() - started, 1)
            log(f"{slug}: {rows:,} {name} rows in {info[f'generate_{name}_s']} s")
        with connection.cursor() as cursor:
            for table in ("orders_order", "payments_payment", "payments_ledgerentry"):
                cursor.execute(f"VACUUM ANALYZE {table}")
        info["orders"] = n
    started = time.perf_counter()
    DailyStatState.objects.filter(seller=seller).delete()  # a full rebuild, timed
    info["rollup_rows"] = daily_stats_refresh(seller=seller)
    info["rollup_build_s"] = round(time.perf_counter() - started, 2)
    log(f"{slug}: rollup {info['rollup_rows']} rows in {info['rollup_build_s']} s")
    return seller, user, info


def measure(client: Client, url: str, runs: int) -> dict:
    for _ in range(3):  # warm caches and the connection
        assert client.get(url).status_code == 200, url
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, url
    times.sort()
    return {"url": url, "runs": runs, "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1), "max_ms": round(times[-1], 1)}


def pages(seller: Seller) -> dict[str, str]:
    today = local_today(seller)
    return {
        "overview_30d": "/dashboard/?range=30d",
        "overview_365d": f"/dashboard/?range=custom&from={today - timedelta(days=364)}&to={today}",
        "orders_filtered_page1": (f"/dashboard/orders/?status=paid&date_from={today - timedelta(days=90)}"
                                  f"&date_to={today}&sort=-created"),
    }


def login(user) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def run_pages(seller, user, runs: int) -> dict:
    client = login(user)
    return {name: measure(client, url, runs) for name, url in pages(seller).items()}


def overview_without_rollup(seller, user, runs: int) -> dict:
    """The same overview, aggregated raw (no rollup state), to show what the rollup buys."""
    client = login(user)
    with transaction.atomic():
        DailyStatState.objects.filter(seller=seller).delete()
        result = {name: measure(client, url, runs) for name, url in pages(seller).items()
                  if name.startswith("overview")}
        transaction.set_rollback(True)
    return result


def csv_child(slug: str) -> None:
    """Runs in its own process: stream the whole export and report rows and peak RSS."""
    seller = Seller.objects.get(slug=slug)
    user = get_user_model().objects.get(username=f"{slug}-owner")
    client = login(user)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    response = client.get("/dashboard/orders/?export=csv")
    lines = size = 0
    for chunk in response.streaming_content:
        lines += chunk.count(b"\n")
        size += len(chunk)
    print(json.dumps({"seller": seller.slug, "rows": lines - 1, "bytes": size,
                      "seconds": round(time.perf_counter() - started, 1),
                      "rss_before_mb": round(rss_before / 1024, 1),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--skip-csv", action="store_true")
    parser.add_argument("--csv-child")
    args = parser.parse_args()
    if args.csv_child:
        return csv_child(args.csv_child)

    if connection.vendor != "postgresql":
        raise SystemExit("The dashboard benchmark needs PostgreSQL: set DATABASE_URL=postgres://…")
    call_command("migrate", verbosity=0)
    small, small_user, small_info = ensure_seller("bench-10k", args.small)
    big, big_user, big_info = ensure_seller("bench-1m", args.big)

    result = {"database": "postgresql", "cpus": os.cpu_count(), "sizes": {"small": args.small, "big": args.big},
              "data": {"small": small_info, "big": big_info}}
    log("measuring small")
    result["small"] = run_pages(small, small_user, args.runs)
    log("measuring big")
    result["big"] = run_pages(big, big_user, args.runs)
    result["ratio_big_over_small_p50"] = {
        name: round(result["big"][name]["p50_ms"] / max(result["small"][name]["p50_ms"], 0.1), 2)
        for name in result["big"]}
    log("measuring big without rollup")
    result["big_without_rollup"] = overview_without_rollup(big, big_user, max(5, args.runs // 6))
    result["targets"] = {
        "overview_p50_under_250ms_at_big": all(result["big"][n]["p50_ms"] < 250 for n in result["big"]
                                               if n.startswith("overview")),
        "ratio_at_most_3": all(r <= 3 for r in result["ratio_big_over_small_p50"].values()),
    }
    if not args.skip_csv:
        log("streaming the big CSV export in a child process")
        child = subprocess.run([sys.executable, __file__, "--csv-child", big.slug], capture_output=True, text=True,
                               check=True, env=os.environ.copy())
        result["csv_export_big"] = json.loads(child.stdout.strip().splitlines()[-1])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Analytics selectors: day boundaries in the seller's timezone, KPIs vs the previous
period, and the rollup equal to the raw aggregate."""
from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from payments import analytics
from payments.models import LedgerEntry
from payments.tasks import refresh_dashboard_rollups
from sellers.models import DailyStat, DailyStatState
from tests.sellers.dashboard_helpers import open_order, paid_order

pytestmark = pytest.mark.django_db


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_presets_and_custom_ranges(seller):
    today = date(2026, 3, 10)
    r, err = analytics.date_range_parse({"range": "7d"}, seller, today)
    assert (r.start, r.end, r.days, err) == (date(2026, 3, 4), today, 7, "")
    assert r.previous().start == date(2026, 2, 25) and r.previous().end == date(2026, 3, 3)
    r, err = analytics.date_range_parse({"range": "today"}, seller, today)
    assert r.start == r.end == today
    r, err = analytics.date_range_parse({"range": "custom", "from": "2026-01-01", "to": "2026-01-31"}, seller, today)
    assert r.days == 31 and not err
    for bad in ({"range": "custom", "from": "2026-02-01", "to": "2026-01-01"},
                {"range": "custom", "from": "x", "to": "2026-01-01"},
                {"range": "custom", "from": "2020-01-01", "to": "2026-01-01"}):
        r, err = analytics.date_range_parse(bad, seller, today)
        assert err and r.key == "30d"
    assert analytics.date_range_parse({"range": "bogus"}, seller, today)[0].key == "30d"


def test_days_are_cut_in_the_sellers_timezone(seller):
    # Kolkata is UTC+5:30: 20:00 UTC on 1 Mar is 01:30 on 2 Mar locally.
    paid_order(seller, amount=1000, at=utc(2026, 3, 1, 20, 0))
    paid_order(seller, amount=2000, at=utc(2026, 3, 1, 18, 0))  # 23:30 on 1 Mar locally
    rows = analytics._raw_rows(seller, date(2026, 3, 1), date(2026, 3, 2))
    gross = {day: row["gross"] for (day, _c, method), row in rows.items() if method}
    assert gross == {date(2026, 3, 1): 2000, date(2026, 3, 2): 1000}


def test_kpis_and_previous_period(seller):
    now = timezone.now()
    today = analytics.local_today(seller)
    for _ in range(3):
        paid_order(seller, amount=10000, at=now - timedelta(hours=1))
    open_order(seller, status="expired", payment_status="expired", at=now - timedelta(hours=2))
    paid_order(seller, amount=10000, at=now - timedelta(days=10))  # previous 7-day period
    _, refunded = paid_order(seller, amount=5000, at=now - timedelta(hours=3))
    LedgerEntry.objects.create(seller=seller, payment=refunded, kind="refund", custody="platform", method="razorpay",
                               currency="INR", gross=-2000, fee=0, net=-2000, fee_bps=250)
    open_order(seller, payment_status="pending")
    paid_order(seller, amount=777, currency="USD", at=now - timedelta(hours=1))  # another currency, not mixed in

    data = analytics.overview(seller, analytics.date_range_parse({"range": "7d"}, seller)[0])
    k = data.current
    assert data.currency == "INR" and data.currencies == ["INR", "USD"]
    assert k.gross == 35000 and k.fees == 3 * 250 + 125 and k.net == 35000 - 875
    assert k.orders_paid == 4 and k.orders_created == 6
    assert k.conversion == pytest.approx(4 / 6) and k.expired_rate == pytest.approx(1 / 6)
    assert k.aov == 35000 // 4 and k.refunds == 2000
    assert data.pending_now == 1
    assert data.previous.gross == 10000
    assert data.deltas["gross"] == 250.0 and data.deltas["orders_paid"] == 300.0
    assert data.volume_by_day[-1] + sum(data.volume_by_day[:-1]) == 35000
    assert data.days[-1] == today and len(data.days) == 7
    assert data.by_method == {"razorpay": 35000}
    assert data.funnel["Created"] == 6 and data.funnel["Completed"] == 4 and data.funnel["Expired"] == 1

    usd = analytics.overview(seller, analytics.date_range_parse({"range": "7d"}, seller)[0], "USD")
    assert usd.currency == "USD" and usd.current.gross == 777


def test_rollup_equals_raw_aggregate(seller, other_seller):
    now = timezone.now()
    for days_ago in (0, 1, 2, 5, 9, 30, 31, 40):
        paid_order(seller, amount=1000 + days_ago, at=now - timedelta(days=days_ago, hours=3))
        open_order(seller, status="expired", payment_status="expired", at=now - timedelta(days=days_ago))
        paid_order(other_seller, amount=99, at=now - timedelta(days=days_ago))
    paid_order(seller, amount=5_000_000, currency="XNO", method="nano", at=now - timedelta(days=3))
    today = analytics.local_today(seller)
    start = today - timedelta(days=60)
    raw = analytics._raw_rows(seller, start, today)

    written = analytics.daily_stats_refresh(seller=seller)
    assert written > 0
    assert DailyStatState.objects.get(seller=seller).through_day == today - timedelta(days=1)
    combined = analytics.daily_rows(seller, start, today)
    assert combined == raw
    assert not DailyStat.objects.filter(seller=other_seller).exists()

    range_ = analytics.date_range_parse({"range": "90d"}, seller)[0]
    rolled = analytics.overview(seller, range_)
    DailyStatState.objects.all().delete()
    unrolled = analytics.overview(seller, range_)
    assert rolled.current == unrolled.current and rolled.volume_by_day == unrolled.volume_by_day


def test_refresh_rerolls_recent_days_and_is_idempotent(seller):
    now = timezone.now()
    order, _ = open_order(seller, status="open", payment_status="pending", at=now - timedelta(days=2))
    analytics.daily_stats_refresh(seller=seller)
    # The order expires after the rollup ran: the beat's overlap window picks it up.
    type(order).objects.filter(pk=order.pk).update(status="expired")
    refresh_dashboard_rollups.delay(overlap_days=3)
    refresh_dashboard_rollups.delay(overlap_days=3)
    today = analytics.local_today(seller)
    assert analytics.daily_rows(seller, today - timedelta(days=5), today) == \
        analytics._raw_rows(seller, today - timedelta(days=5), today)
    assert sum(DailyStat.objects.filter(seller=seller).values_list("orders_expired", flat=True)) == 1


def test_timezone_change_rebuilds_the_rollup(seller):
    paid_order(seller, amount=1000, at=timezone.now() - timedelta(days=2))
    analytics.daily_stats_refresh(seller=seller)
    seller.timezone = "America/New_York"
    seller.save()
    today = analytics.local_today(seller)
    # Stale rollup (Kolkata days) is ignored until rebuilt, then rebuilt in the new zone.
    assert analytics.daily_rows(seller, today - timedelta(days=5), today) == \
        analytics._raw_rows(seller, today - timedelta(days=5), today)
    analytics.daily_stats_refresh(seller=seller)
    assert DailyStatState.objects.get(seller=seller).timezone == "America/New_York"
    assert analytics.daily_rows(seller, today - timedelta(days=5), today) == \
        analytics._raw_rows(seller, today - timedelta(days=5), today)

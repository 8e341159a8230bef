"""Dashboard analytics: KPIs, daily volume, methods and the funnel for a seller.

Everything is cut into days in the seller's timezone. Days up to the rollup's
`through_day` come from DailyStat (a handful of rows however many orders exist);
later days (today, and anything the beat has not rolled up yet) are aggregated
raw in the database with TruncDate(tzinfo=seller tz). Both paths share
`_raw_rows`, so the rollup is by construction the raw aggregate (a test checks it).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from orders.models import Order
from payments.models import LedgerEntry, Payment
from sellers.models import DailyStat, DailyStatState, Seller

RANGE_DAYS = {"today": 1, "7d": 7, "30d": 30, "90d": 90, "365d": 365}
RANGE_LABELS = {"today": "Today", "7d": "7 days", "30d": "30 days", "90d": "90 days"}
DEFAULT_RANGE = "30d"
MAX_CUSTOM_DAYS = 731
# Dates outside this window are typos (and would overflow date arithmetic for the previous period).
EARLIEST_DAY, LATEST_DAY = date(2000, 1, 1), date(2100, 12, 31)
# The frequent beat re-rolls this many recent days: orders created then can still be paid or expire.
REFRESH_OVERLAP_DAYS = 3


# --- date ranges -------------------------------------------------------------------------

@dataclass(frozen=True)
class DateRange:
    start: date  # first local day, inclusive
    end: date    # last local day, inclusive
    key: str = "custom"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> DateRange:
        return DateRange(self.start - timedelta(days=self.days), self.start - timedelta(days=1), "previous")

    def day_list(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]


def local_today(seller: Seller) -> date:
    return timezone.now().astimezone(seller.tz).date()


def day_bounds(seller: Seller, start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, end+1 00:00) in the seller's zone, as aware datetimes (DST-safe)."""
    tz = seller.tz
    return datetime.combine(start, time.min, tzinfo=tz), datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz)


def date_range_parse(params, seller: Seller, today: date | None = None) -> tuple[DateRange, str]:
    """The range asked for in GET params (range=today|7d|30d|90d|365d|custom with from/to).
    Returns (range, error message or ""); bad input falls back to the default range."""
    today = today or local_today(seller)
    key = params.get("range") or DEFAULT_RANGE
    if key == "custom":
        try:
            start, end = date.fromisoformat(params.get("from", "")), date.fromisoformat(params.get("to", ""))
        except ValueError:
            return _preset(DEFAULT_RANGE, today), "Enter both dates of a custom range as YYYY-MM-DD."
        if not (EARLIEST_DAY <= start <= LATEST_DAY and EARLIEST_DAY <= end <= LATEST_DAY):
            return _preset(DEFAULT_RANGE, today), f"Use dates between {EARLIEST_DAY} and {LATEST_DAY}."
        if start > end:
            return _preset(DEFAULT_RANGE, today), "The custom range starts after it ends."
        if (end - start).days + 1 > MAX_CUSTOM_DAYS:
            return _preset(DEFAULT_RANGE, today), f"A custom range can span at most {MAX_CUSTOM_DAYS} days."
        return DateRange(start, end, "custom"), ""
    if key not in RANGE_DAYS:
        return _preset(DEFAULT_RANGE, today), ""
    return _preset(key, today), ""


def _preset(key: str, today: date) -> DateRange:
    return DateRange(today - timedelta(days=RANGE_DAYS[key] - 1), today, key)


# --- per-day rows: raw and rolled up -------------------------------------------------------

METRICS = ("orders_created", "orders_paid", "orders_expired", "payments_started", "payments_completed",
           "payments_expired", "payments_failed", "paid_count", "gross", "fees", "net", "refunds")
Key = tuple  # (day, currency, method)


def _zero() -> dict[str, int]:
    return dict.fromkeys(METRICS, 0)


def _raw_rows(seller: Seller, start: date, end: date) -> dict[Key, dict[str, int]]:
    """Three grouped queries over the raw tables for local days [start, end]."""
    lo, hi = day_bounds(seller, start, end)
    day = TruncDate("created_at", tzinfo=seller.tz)
    rows: dict[Key, dict[str, int]] = defaultdict(_zero)

    orders = (Order.objects.filter(seller=seller, created_at__gte=lo, created_at__lt=hi)
              .annotate(day=day).values("day", "currency").order_by()
              .annotate(orders_created=Count("pk"),
                        orders_paid=Count("pk", filter=Q(status__in=Order.PAID_STATUSES)),
                        orders_expired=Count("pk", filter=Q(status=Order.Status.EXPIRED))))
    for row in orders:
        rows[(row.pop("day"), row.pop("currency"), "")].update(row)

    payments = (Payment.objects.filter(seller=seller, created_at__gte=lo, created_at__lt=hi)
                .annotate(day=day).values("day", "currency", "method").order_by()
                .annotate(payments_started=Count("pk"),
                          payments_completed=Count("pk", filter=Q(status__in=Payment.PAID_STATUSES)),
                          payments_expired=Count("pk", filter=Q(status=Payment.Status.EXPIRED)),
                          payments_failed=Count("pk", filter=Q(status=Payment.Status.FAILED))))
    for row in payments:
        rows[(row.pop("day"), row.pop("currency"), row.pop("method"))].update(row)

    is_payment, is_refund = Q(kind=LedgerEntry.Kind.PAYMENT), Q(kind=LedgerEntry.Kind.REFUND)
    ledger = (LedgerEntry.objects.filter(seller=seller, created_at__gte=lo, created_at__lt=hi,
                                         kind__in=[LedgerEntry.Kind.PAYMENT, LedgerEntry.Kind.REFUND])
              .annotate(day=day).values("day", "currency", "method").order_by()
              .annotate(m_gross=Sum("gross", filter=is_payment), m_fees=Sum("fee", filter=is_payment),
                        m_net=Sum("net", filter=is_payment), m_paid=Count("pk", filter=is_payment),
                        m_refunds=Sum("gross", filter=is_refund)))
    for row in ledger:
        rows[(row["day"], row["currency"], row["method"])].update(
            gross=row["m_gross"] or 0, fees=row["m_fees"] or 0, net=row["m_net"] or 0, paid_count=row["m_paid"],
            refunds=-(row["m_refunds"] or 0))  # refund rows carry negative gross
    return dict(rows)


def _rollup_rows(seller: Seller, start: date, end: date) -> dict[Key, dict[str, int]]:
    return {
        (row.pop("day"), row.pop("currency"), row.pop("method")): row
        for row in DailyStat.objects.filter(seller=seller, day__gte=start, day__lte=end)
        .values("day", "currency", "method", *METRICS)
    }


def _rollup_through(seller: Seller) -> date | None:
    state = DailyStatState.objects.filter(seller=seller, timezone=seller.timezone).only("through_day").first()
    return state.through_day if state else None


def daily_rows(seller: Seller, start: date, end: date) -> dict[Key, dict[str, int]]:
    """Per (day, currency, method) metrics: rollup where complete, raw after it."""
    through = _rollup_through(seller)
    rows: dict[Key, dict[str, int]] = {}
    if through and start <= through:
        rows.update(_rollup_rows(seller, start, min(end, through)))
    raw_start = max(start, through + timedelta(days=1)) if through else start
    if raw_start <= end:
        rows.update(_raw_rows(seller, raw_start, end))
    return rows


# --- the overview --------------------------------------------------------------------------

@dataclass
class Totals:
    orders_created: int = 0
    orders_paid: int = 0
    orders_expired: int = 0
    payments_started: int = 0
    payments_completed: int = 0
    payments_expired: int = 0
    payments_failed: int = 0
    paid_count: int = 0
    gross: int = 0
    fees: int = 0
    net: int = 0
    refunds: int = 0

    def add(self, row: dict[str, int]) -> None:
        for name in METRICS:
            setattr(self, name, getattr(self, name) + (row.get(name) or 0))

    # Ratios are display values, not money: floats are fine here.
    @property
    def conversion(self) -> float | None:
        return self.orders_paid / self.orders_created if self.orders_created else None

    @property
    def expired_rate(self) -> float | None:
        return self.orders_expired / self.orders_created if self.orders_created else None

    @property
    def aov(self) -> int | None:
        return self.gross // self.paid_count if self.paid_count else None


KPI_FIELDS = ("gross", "net", "fees", "orders_paid", "conversion", "aov", "expired_rate", "refunds")


def _delta_pct(current, previous) -> float | None:
    if current is None or not previous:
        return None
    return round((current - previous) * 100 / previous, 1)


@dataclass
class Overview:
    range: DateRange
    currency: str
    currencies: list[str]
    current: Totals
    previous: Totals
    deltas: dict[str, float | None]
    pending_now: int
    days: list[date]
    volume_by_day: list[int]
    by_method: dict[str, int]
    funnel: dict[str, int]
    has_any_orders: bool = field(default=False)


def overview(seller: Seller, date_range: DateRange, currency: str | None = None) -> Overview:
    """KPIs for the range and the previous period of the same length, in one currency.

    Constant number of queries: rollup state, rollup rows, at most three raw queries,
    the pending count and (only when the range is empty) an any-orders check.
    """
    previous = date_range.previous()
    rows = daily_rows(seller, previous.start, date_range.end)
    present = sorted({key[1] for key, row in rows.items() if any(row.values())})
    currency = currency if currency in present else (
        seller.default_currency if seller.default_currency in present or not present else present[0])

    current, prior = Totals(), Totals()
    per_day: dict[date, int] = defaultdict(int)
    by_method: dict[str, int] = defaultdict(int)
    for (day, row_currency, method), row in rows.items():
        if row_currency != currency:
            continue
        if day >= date_range.start:
            current.add(row)
            per_day[day] += row.get("gross") or 0
            if method and row.get("gross"):
                by_method[method] += row["gross"]
        else:
            prior.add(row)

    deltas = {name: _delta_pct(getattr(current, name), getattr(prior, name)) for name in KPI_FIELDS}
    pending = Payment.objects.filter(seller=seller, status__in=Payment.ACTIVE_STATUSES, currency=currency).count()
    days = date_range.day_list()
    has_any = bool(present) or Order.objects.filter(seller=seller).exists()
    return Overview(
        range=date_range, currency=currency, currencies=present or [currency], current=current, previous=prior,
        deltas=deltas, pending_now=pending, days=days, volume_by_day=[per_day.get(d, 0) for d in days],
        by_method=dict(sorted(by_method.items())),
        funnel={"Created": current.orders_created, "Started": current.payments_started,
                "Completed": current.payments_completed, "Expired": current.payments_expired,
                "Failed": current.payments_failed},
        has_any_orders=has_any,
    )


# --- keeping the rollup fresh (beat) -----------------------------------------------------------

def daily_stats_refresh(*, seller: Seller, start: date | None = None, overlap_days: int = REFRESH_OVERLAP_DAYS,
                        today: date | None = None) -> int:
    """Rebuild DailyStat rows from the raw tables for local days up to yesterday.

    By default re-rolls `overlap_days` before the current watermark (recent orders can
    still change status) and moves the watermark to yesterday. A timezone change throws
    the rollup away, because its days were cut in the old zone. Idempotent; holds the
    state row lock so two beat runs do not interleave. Returns rows written.
    """
    today = today or local_today(seller)
    yesterday = today - timedelta(days=1)
    with transaction.atomic():
        state = DailyStatState.objects.select_for_update().filter(seller=seller).first()
        if state and state.timezone != seller.timezone:
            DailyStat.objects.filter(seller=seller).delete()
            state.delete()
            state = None
        if start is None:
            if state:
                start = state.through_day - timedelta(days=overlap_days - 1)
            else:
                first = Order.objects.filter(seller=seller).order_by("created_at").values_list(
                    "created_at", flat=True).first()
                start = first.astimezone(seller.tz).date() if first else yesterday
        elif state:
            start = min(start, state.through_day + timedelta(days=1))  # never leave a gap
        written = 0
        if start <= yesterday:
            rows = _raw_rows(seller, start, yesterday)
            DailyStat.objects.filter(seller=seller, day__gte=start, day__lte=yesterday).delete()
            written = len(DailyStat.objects.bulk_create(
                [DailyStat(seller=seller, day=day, currency=currency, method=method, **row)
                 for (day, currency, method), row in rows.items()], batch_size=2000))
        DailyStatState.objects.update_or_create(
            seller=seller, defaults={"through_day": yesterday, "timezone": seller.timezone,
                                     "refreshed_at": timezone.now()})
    return written


def daily_stats_refresh_all(*, overlap_days: int = REFRESH_OVERLAP_DAYS) -> int:
    total = 0
    for seller in Seller.objects.all().only("pk", "timezone"):
        total += daily_stats_refresh(seller=seller, overlap_days=overlap_days)
    return total

"""Reads for the staff pages (/admin/analytics/, /admin/routing/, /admin/review/).

Every function runs a fixed number of queries, whatever the number of sellers or rows:
per-seller figures are Subquery annotations or one GROUP BY, never a loop of queries.
Amounts are integers in minor units, per currency; nothing here adds two currencies.
"""
from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate

from orders.models import Order
from payments.models import InboundWebhook, LedgerEntry, Payment, Receipt, Refund, Settlement, method_name
from payments.money import RAW_PER_MICRO_XNO
from sellers.models import ALL_METHODS, METHOD_CHOICES, Seller
from sellers.money import format_minor, format_raw_xno
from sellers.validators import is_valid_payout_destination
from webhooks.models import WebhookEndpoint

PAID = Payment.PAID_STATUSES
ACTIVE = Payment.ACTIVE_STATUSES


# --- date ranges ------------------------------------------------------------------

@dataclass(frozen=True)
class DateRange:
    """Whole local days [first_day, last_day] in `tz`, as aware datetimes [start, end)."""

    first_day: date
    last_day: date
    tz_name: str

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.tz_name)

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time.min, tzinfo=self.tz)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last_day + timedelta(days=1), time.min, tzinfo=self.tz)

    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=n) for n in range((self.last_day - self.first_day).days + 1)]


def count_per_seller(qs: QuerySet) -> Coalesce:
    """A correlated COUNT(*) per seller, 0 when there are no rows."""
    sub = qs.order_by().values("seller_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(sub, output_field=IntegerField()), Value(0))


def sum_per_seller(qs: QuerySet, column: str) -> Coalesce:
    sub = qs.order_by().values("seller_id").annotate(total=Sum(column)).values("total")
    return Coalesce(Subquery(sub, output_field=IntegerField()), Value(0))


def _ledger_sales(rng: DateRange, currency: str) -> QuerySet:
    """Payment ledger rows whose payment completed in the range: GMV = fee + net, exactly."""
    return LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PAYMENT, currency=currency,
                                      payment__completed_at__gte=rng.start, payment__completed_at__lt=rng.end)


# --- analytics --------------------------------------------------------------------

def analytics_currencies() -> list[str]:
    """Currencies with any sales, most common first (the page's currency switcher)."""
    rows = (LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PAYMENT).values("currency")
            .annotate(n=Count("pk")).order_by("-n", "currency"))
    return [row["currency"] for row in rows]


def platform_totals(rng: DateRange, currency: str) -> dict:
    """GMV, fees and net to sellers of payments completed in the range, and refunds made in it."""
    sales = _ledger_sales(rng, currency).aggregate(gmv=Sum("gross"), fees=Sum("fee"), net=Sum("net"),
                                                   count=Count("pk"))
    refunds = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND, currency=currency,
                                         created_at__gte=rng.start, created_at__lt=rng.end).aggregate(s=Sum("gross"))
    return {"gmv": sales["gmv"] or 0, "fees": sales["fees"] or 0, "net": sales["net"] or 0,
            "paid_count": sales["count"], "refunds": -(refunds["s"] or 0)}


def method_rates(rng: DateRange) -> list[dict]:
    """Per method, of payments started in the range: started, paid, expired, and the rates
    (paid / started, expired / started) as exact fractions for display."""
    rows = (Payment.objects.filter(created_at__gte=rng.start, created_at__lt=rng.end).values("method")
            .annotate(started=Count("pk"), paid=Count("pk", filter=Q(status__in=PAID)),
                      expired=Count("pk", filter=Q(status=Payment.Status.EXPIRED)),
                      failed=Count("pk", filter=Q(status=Payment.Status.FAILED)))
            .order_by("method"))
    by_method = {row["method"]: row for row in rows}
    labels = dict(METHOD_CHOICES)
    out = []
    for method in ALL_METHODS:
        row = by_method.get(method, {"started": 0, "paid": 0, "expired": 0, "failed": 0})
        started = row["started"]
        out.append({"method": method, "label": labels[method], "started": started, "paid": row["paid"],
                    "expired": row["expired"], "failed": row["failed"],
                    "success_rate": row["paid"] / started if started else None,
                    "expired_rate": row["expired"] / started if started else None})
    return out


def gmv_by_day(rng: DateRange, currency: str) -> dict[str, dict[date, int]]:
    """{method: {local day: gross}} of sales completed in the range, days cut in rng.tz."""
    rows = (_ledger_sales(rng, currency)
            .annotate(day=TruncDate("payment__completed_at", tzinfo=rng.tz))
            .values("method", "day").annotate(gross=Sum("gross")).order_by("day", "method"))
    out: dict[str, dict[date, int]] = {}
    for row in rows:
        out.setdefault(row["method"], {})[row["day"]] = row["gross"]
    return out


SELLER_SORTS = {
    "name": "name", "volume": "volume", "orders": "orders_count", "success": "success_bps",
    "pending": "pending", "exceptions": "exceptions",
}


def seller_table(rng: DateRange, currency: str, sort: str = "-volume") -> QuerySet:
    """The sellers that trade in `currency`, with their figures in it for the range, in one query.

    Only that currency's orders and payments count, and a seller is listed when it prices in
    `currency` or has orders in it in the range: another currency's seller is never a row of
    zeros with its orders counted (it is listed under its own currency).

    volume: gross sales in `currency` completed in the range; orders_count: orders created in it;
    payments/paid/pending/exceptions: payments started in it (all, paid, still active,
    flagged for review); success_bps: paid / payments in basis points, for sorting.
    """
    orders = Order.objects.filter(seller=OuterRef("pk"), currency=currency, created_at__gte=rng.start,
                                  created_at__lt=rng.end)
    started = Payment.objects.filter(seller=OuterRef("pk"), currency=currency, created_at__gte=rng.start,
                                     created_at__lt=rng.end)
    qs = Seller.objects.filter(Q(default_currency=currency) | Exists(orders)).annotate(
        volume=sum_per_seller(_ledger_sales(rng, currency).filter(seller=OuterRef("pk")), "gross"),
        orders_count=count_per_seller(orders),
        payments_started=count_per_seller(started),
        paid=count_per_seller(started.filter(status__in=PAID)),
        pending=count_per_seller(started.filter(status__in=ACTIVE)),
        exceptions=count_per_seller(started.exclude(review_status=Payment.Review.NONE)),
    ).annotate(
        success_bps=Case(When(payments_started=0, then=Value(0)),
                         default=10000 * F("paid") / F("payments_started"),
                         output_field=IntegerField()),
    )
    key = sort.lstrip("-")
    column = SELLER_SORTS.get(key, "volume")
    descending = sort.startswith("-") or key not in SELLER_SORTS
    return qs.order_by(f"-{column}" if descending else column, "name")


# --- routing and balances ------------------------------------------------------------

ROUTES = {
    "nano": "Shopper pays the seller's own Nano address (non-custodial); our fee accrues as a receivable.",
    "razorpay": "Platform Razorpay account, then a Route transfer to the seller's linked account.",
    "coinpay": "Platform CoinPay account, then a CoinPay payout to the seller's wallet.",
}
# Which balance an entry is in follows the status of the settlement covering it now
# (LedgerEntry.NOT_COVERED: none does; a failed or reversed one leaves it owed).
OPEN = (LedgerEntry.NOT_COVERED, Settlement.Status.FAILED, Settlement.Status.REVERSED)
IN_FLIGHT = (Settlement.Status.PENDING, Settlement.Status.IN_FLIGHT)
PAID_OUT = (Settlement.Status.PAID,)
# The LedgerEntry changelist's "settled" filter (payments.admin) takes these values.
SETTLED_FILTERS = {"open": OPEN, "in_flight": IN_FLIGHT, "paid": PAID_OUT, "unpaid": OPEN + IN_FLIGHT}
# Drill-down from a balance to its rows: (custody, settled filter).
BALANCE_FILTERS = {"owed": ("platform", "open"), "in_flight": ("platform", "in_flight"),
                   "paid_out": ("platform", "paid"), "fee_receivable": ("seller", "unpaid")}


def ledger_balances() -> dict[int, dict[str, dict[str, int]]]:
    """{seller_id: {currency: {owed, in_flight, paid_out, fee_receivable}}} from the ledger, one query.

    owed: custodial net not yet covered by a live settlement (failed/reversed ones count as owed);
    in_flight: covered by a pending or in-flight transfer/payout; paid_out: by a paid one;
    fee_receivable: our fee on non-custodial (Nano) sales not yet paid to us.
    """
    rows = (LedgerEntry.objects.with_settlement_status().order_by()
            .values("seller_id", "currency", "custody", "settlement_status")
            .annotate(net=Sum("net"), fee=Sum("fee")))
    out: dict[int, dict[str, dict[str, int]]] = {}
    for row in rows:
        totals = out.setdefault(row["seller_id"], {}).setdefault(
            row["currency"], {"owed": 0, "in_flight": 0, "paid_out": 0, "fee_receivable": 0})
        status = row["settlement_status"]
        if row["custody"] == LedgerEntry.Custody.PLATFORM:
            key = "owed" if status in OPEN else "in_flight" if status in IN_FLIGHT else "paid_out"
            totals[key] += row["net"] or 0
        elif status not in PAID_OUT:
            totals["fee_receivable"] += row["fee"] or 0
    return out


@dataclass
class MethodRoute:
    method: str
    label: str
    route: str
    destination: str
    problem: str = ""          # "missing" | "invalid" | ""


@dataclass
class SellerRouting:
    seller: Seller
    methods: list[MethodRoute]
    balances: dict[str, dict[str, int]]
    last_settlement: Settlement | None
    problems: list[str] = field(default_factory=list)


def seller_routing() -> list[SellerRouting]:
    """Where each enabled method's money goes for every seller, with balances and flags.

    Four queries: sellers (+ last settlement id), destinations, ledger balances, settlements.
    """
    last_id = Settlement.objects.filter(seller=OuterRef("pk")).order_by("-created_at", "-pk").values("pk")[:1]
    sellers = list(Seller.objects.annotate(last_settlement_id=Subquery(last_id))
                   .prefetch_related("payout_destinations").order_by("name"))
    balances = ledger_balances()
    settlements = Settlement.objects.in_bulk([s.last_settlement_id for s in sellers if s.last_settlement_id])
    labels = dict(METHOD_CHOICES)
    out = []
    for seller in sellers:
        destinations = {d.method: d.value for d in seller.payout_destinations.all()}
        methods = []
        for method in [m for m in ALL_METHODS if m in (seller.enabled_methods or [])]:
            value = destinations.get(method, "")
            problem = "missing" if not value else ("" if is_valid_payout_destination(method, value) else "invalid")
            methods.append(MethodRoute(method, labels[method], ROUTES[method], value, problem))
        out.append(SellerRouting(
            seller=seller, methods=methods, balances=balances.get(seller.pk, {}),
            last_settlement=settlements.get(seller.last_settlement_id),
            problems=[f"{m.label}: destination {m.problem}" for m in methods if m.problem],
        ))
    return out


# --- review queue -------------------------------------------------------------------

REVIEW_LIMIT = 200


# A refund that did not send the money back (failed at the provider, or a Nano send the seller
# withdrew): on a payment under review it is usually why the review is open again.
_unsent_refunds = (Refund.objects.filter(payment=OuterRef("pk"), status__in=[Refund.Status.FAILED,
                                                                           Refund.Status.CANCELLED])
                   .order_by("-completed_at"))


def _payment_detail(p: Payment) -> str:
    detail = f"Order {p.order}"
    if p.last_unsent_refund_status == Refund.Status.FAILED:
        return f"{detail} · its refund failed: {p.last_unsent_refund_failure_reason or 'no reason given'}"
    if p.last_unsent_refund_status == Refund.Status.CANCELLED:
        return f"{detail} · the seller cancelled its refund"
    return detail


def review_querysets() -> dict[str, QuerySet]:
    """Everything that needs a human, by kind; the queue page and the index count share these."""
    return {
        "payment": Payment.objects.needs_review().select_related("seller", "order").annotate(
            **{f"last_unsent_refund_{name}": Subquery(_unsent_refunds.values(name)[:1])
               for name in ("status", "failure_reason")}),
        "receipt": Receipt.objects.filter(payment__isnull=True, resolution=Receipt.Resolution.NONE),
        "webhook": InboundWebhook.objects.filter(
            status__in=[InboundWebhook.Status.INVALID, InboundWebhook.Status.FAILED], reviewed_at__isnull=True),
        "settlement": Settlement.objects.filter(status=Settlement.Status.FAILED, reviewed_at__isnull=True)
        .select_related("seller"),
        "endpoint": WebhookEndpoint.objects.filter(is_active=False, disabled_at__isnull=False).select_related("seller"),
    }


def review_count() -> int:
    return sum(qs.count() for qs in review_querysets().values())


@dataclass
class ReviewItem:
    kind: str
    obj: object
    at: datetime
    title: str
    detail: str = ""
    seller: Seller | None = None
    codes: list[str] = field(default_factory=list)  # exception codes, for payments
    method: str = ""
    due: str = ""          # formatted money, the pay currency's notation
    received: str = ""
    difference: str = ""   # "over by Ӿ0.5", "under by ₹100.00", "exact"


def _payment_money(p: Payment) -> dict:
    """Due, received and the difference, compared in wire units (raw XNO is exact)."""
    per_minor = RAW_PER_MICRO_XNO if p.pay_currency == "XNO" else 1
    gap = p.amount_received_int - p.amount_due * per_minor

    def wire(amount: int) -> str:
        return format_raw_xno(amount) if p.pay_currency == "XNO" else format_minor(amount, p.pay_currency)

    difference = "exact" if gap == 0 else f"over by {wire(gap)}" if gap > 0 else f"under by {wire(-gap)}"
    if p.amount_received_int == 0:
        difference = "nothing received"
    return {"due": format_minor(p.amount_due, p.pay_currency), "received": p.amount_received_display,
            "difference": difference}


def review_items(limit: int = REVIEW_LIMIT) -> list[ReviewItem]:
    """The queue, oldest first: at most `limit` of each kind, one query per kind."""
    qs = review_querysets()
    items: list[ReviewItem] = []
    for p in qs["payment"].order_by("created_at")[:limit]:
        title = f"{method_name(p.method)} payment {p.get_status_display().lower()}"
        items.append(ReviewItem("payment", p, p.created_at, title, _payment_detail(p), p.seller, list(p.exceptions),
                                method=method_name(p.method), **_payment_money(p)))
    for r in qs["receipt"].order_by("created_at")[:limit]:
        items.append(ReviewItem("receipt", r, r.created_at, f"Unmatched {method_name(r.provider)} receipt",
                                f"to {r.pay_to or '—'} (tx {r.external_tx_id[:16]}…)", method=method_name(r.provider),
                                received=r.amount_display))
    for w in qs["webhook"].order_by("received_at")[:limit]:
        title = f"{w.get_status_display()} {w.get_provider_display()} webhook"
        items.append(ReviewItem("webhook", w, w.received_at, title,
                                f"{w.event_type or 'unknown event'} {w.event_id}: {w.error[:120]}"))
    for s in qs["settlement"].order_by("created_at")[:limit]:
        items.append(ReviewItem("settlement", s, s.created_at, f"Failed {s.get_kind_display()}",
                                s.failure_reason[:160], s.seller, method=method_name(s.method),
                                due=format_minor(s.amount, s.currency)))
    for e in qs["endpoint"].order_by("disabled_at")[:limit]:
        items.append(ReviewItem("endpoint", e, e.disabled_at, "Seller webhook endpoint disabled",
                                f"{e.url}: {e.disabled_reason}", e.seller))
    items.sort(key=lambda item: item.at)
    return items

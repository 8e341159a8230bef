"""Scheduled emails (beat): sellers' daily digest of paid orders and weekly report, staff's
daily review digest. Each is keyed by its period, so running again (or twice at once) within
the period queues nothing new; hourly runs send each seller's soon after its local midnight."""
from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from notifications.kinds import Kind
from notifications.models import OutboxEmail
from notifications.selectors import digest_sellers, seller_recipients
from notifications.services import queue_email
from orders.models import Order
from payments.analytics import DateRange, day_bounds, overview
from payments.selectors_dashboard import orders_for_list, with_order_money
from payments.selectors_staff import review_querysets
from sellers.csv_export import COLUMNS, order_rows
from sellers.models import Seller
from sellers.money import format_minor

DIGEST_ORDER_LIMIT = 50  # more than this is a link to the dashboard, not a longer email


def _local_date(seller: Seller, now: datetime) -> date:
    return now.astimezone(seller.tz).date()


def _dashboard(path_name: str) -> str:
    return f"{settings.SITE_URL}{reverse(path_name)}"


def _queued(key: str) -> bool:
    return OutboxEmail.objects.filter(key=key).exists()


# --- sellers: daily digest of paid orders -------------------------------------------

def order_paid_digests_queue(*, now=None) -> int:
    """Yesterday's paid orders (the seller's local day), for sellers who chose the digest."""
    now = now or timezone.now()
    queued = 0
    for seller in digest_sellers():
        day = _local_date(seller, now) - timedelta(days=1)
        key = f"order_paid_digest:seller:{seller.pk}:{day.isoformat()}"
        if not _queued(key) and _order_paid_digest(seller, day, key):
            queued += 1
    return queued


def _order_paid_digest(seller: Seller, day: date, key: str) -> bool:
    start, end = day_bounds(seller, day, day)
    orders = list(Order.objects.filter(seller=seller, paid_at__gte=start, paid_at__lt=end)
                  .order_by("paid_at").values_list("reference", "pk", "currency", "amount")[:DIGEST_ORDER_LIMIT + 1])
    if not orders:
        return False
    totals: dict[str, int] = defaultdict(int)
    for _ref, _pk, currency, amount in orders[:DIGEST_ORDER_LIMIT]:
        totals[currency] += amount
    facts = [(reference or str(pk)[:8], format_minor(amount, currency))
             for reference, pk, currency, amount in orders[:DIGEST_ORDER_LIMIT]]
    more = " (the first 50; see the dashboard for all)" if len(orders) > DIGEST_ORDER_LIMIT else ""
    subject = f"{len(facts)} order{'s' if len(facts) != 1 else ''} paid on {day:%a %d %b %Y}"
    with transaction.atomic():
        return queue_email(
            kind=Kind.ORDER_PAID_DIGEST, key=key, to=seller_recipients(seller, Kind.ORDER_PAID_DIGEST),
            subject=subject, template="notice", seller=seller,
            context={"brand": seller.name, "heading": subject,
                     "lines": [f"Total: {', '.join(format_minor(v, c) for c, v in sorted(totals.items()))}{more}."],
                     "facts": facts, "link": _dashboard("dashboard:orders"), "link_label": "Open orders"},
        ) is not None


# --- sellers: weekly report -----------------------------------------------------------

def weekly_reports_queue(*, now=None) -> int:
    """Last week's figures (Monday to Sunday, the seller's local days) with that week's orders as CSV."""
    now = now or timezone.now()
    queued = 0
    for seller in Seller.objects.filter(status=Seller.Status.ACTIVE):
        today = _local_date(seller, now)
        monday = today - timedelta(days=today.weekday() + 7)
        iso_year, iso_week, _ = monday.isocalendar()
        key = f"weekly_report:seller:{seller.pk}:{iso_year}-W{iso_week:02d}"
        if _queued(key) or not (recipients := seller_recipients(seller, Kind.WEEKLY_REPORT)):
            continue
        if _weekly_report(seller, monday, key, recipients):
            queued += 1
    return queued


def _orders_csv(seller: Seller, monday: date, sunday: date) -> str:
    """The dashboard's orders export (same columns and escaping) for the week's orders."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    week = orders_for_list(seller, {"date_from": monday, "date_to": sunday, "sort": "created"})
    writer.writerows(order_rows(with_order_money(week), seller.tz))
    return buffer.getvalue()


def _weekly_report(seller: Seller, monday: date, key: str, recipients: list[str]) -> bool:
    sunday = monday + timedelta(days=6)
    figures = overview(seller, DateRange(monday, sunday))
    totals, currency = figures.current, figures.currency
    subject = f"Your week at {seller.name}: {monday:%d %b} – {sunday:%d %b %Y}"
    facts = [("Orders created", totals.orders_created), ("Orders paid", totals.orders_paid),
             ("Gross", format_minor(totals.gross, currency)), ("Fees", format_minor(totals.fees, currency)),
             ("Net", format_minor(totals.net, currency)), ("Refunds", format_minor(totals.refunds, currency))]
    attachment = {"filename": f"orders-{seller.slug}-{monday:%Y%m%d}-{sunday:%Y%m%d}.csv",
                  "content": _orders_csv(seller, monday, sunday), "mimetype": "text/csv"}
    with transaction.atomic():
        return queue_email(
            kind=Kind.WEEKLY_REPORT, key=key, to=recipients, subject=subject, template="notice", seller=seller,
            attachments=[attachment],
            context={"brand": seller.name, "heading": subject,
                     "lines": [f"Figures in {currency}; the week's orders are attached as CSV."],
                     "facts": facts, "link": _dashboard("dashboard:overview"), "link_label": "Open the dashboard"},
        ) is not None


# --- staff: the review queue --------------------------------------------------------

REVIEW_KIND_LABELS = {"payment": "Payments with exceptions", "receipt": "Unmatched receipts",
                      "webhook": "Failed or invalid webhooks", "settlement": "Failed settlements",
                      "endpoint": "Disabled webhook endpoints"}
REVIEW_AGE_FIELD = {"webhook": "received_at", "endpoint": "disabled_at"}


def _age(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24} d {hours % 24} h" if hours >= 24 else f"{hours} h"


def review_digest_queue(*, now=None) -> bool:
    """Once a day (UTC), when anything waits: counts by kind and how long the oldest has waited."""
    now = now or timezone.now()
    key = f"review_digest:{now.date().isoformat()}"
    if not settings.STAFF_DIGEST_EMAILS or _queued(key):
        return False
    facts, total = [], 0
    for kind, queryset in review_querysets().items():
        count = queryset.count()
        if not count:
            continue
        field = REVIEW_AGE_FIELD.get(kind, "created_at")
        oldest = queryset.order_by(field).values_list(field, flat=True).first()
        facts.append((REVIEW_KIND_LABELS[kind], f"{count} (oldest {_age(now - oldest)})"))
        total += count
    if not total:
        return False
    subject = f"Kassa review queue: {total} item{'s' if total != 1 else ''} waiting"
    with transaction.atomic():
        return queue_email(
            kind=Kind.REVIEW_DIGEST, key=key, to=settings.STAFF_DIGEST_EMAILS, subject=subject, template="notice",
            context={"heading": subject, "facts": facts, "link": f"{settings.SITE_URL}/admin/review/",
                     "link_label": "Open the review queue"}) is not None

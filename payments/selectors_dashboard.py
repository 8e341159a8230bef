"""Read-only querysets behind the dashboard lists, always scoped to one seller.

Filters come from sellers.forms.ListFilterForm.filters() (already validated). Dates
are local days in the seller's timezone. Lists page without COUNT(*) (see `page_of`),
so page 1 costs the same at 10k and 1M orders.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db.models import OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from orders.models import Order
from payments.analytics import day_bounds
from payments.models import LedgerEntry, Payment
from sellers.forms import ORDER_SORTS, PAYMENT_SORTS
from sellers.models import Seller

PAGE_SIZE = 25
MAX_PAGE = 10_000  # deep OFFSETs are slow everywhere; search or filter instead
COUNT_CAP = 10_000  # lists count at most this many rows ("10,000+"), so a total stays cheap at 1M rows
# Filter values that stand for several statuses: everything that was paid, whatever was refunded since.
STATUS_GROUPS = {
    "any_paid": {Order: ("paid", "fulfilled", "partially_refunded", "refunded"),
                 Payment: ("completed", "partially_refunded", "refunded")},
    "any_refunded": {Order: ("partially_refunded", "refunded"), Payment: ("partially_refunded", "refunded")},
}


def _common(qs: QuerySet, seller: Seller, f: dict, amount_field: str = "amount") -> QuerySet:
    if f.get("status") in STATUS_GROUPS:
        qs = qs.filter(status__in=STATUS_GROUPS[f["status"]][qs.model])
    elif f.get("status"):
        qs = qs.filter(status=f["status"])
    if f.get("date_from") or f.get("date_to"):
        lo, hi = day_bounds(seller, f.get("date_from") or f["date_to"], f.get("date_to") or f["date_from"])
        if f.get("date_from"):
            qs = qs.filter(created_at__gte=lo)
        if f.get("date_to"):
            qs = qs.filter(created_at__lt=hi)
    amount_min, amount_max = f.get("amount_min_minor"), f.get("amount_max_minor")
    if f.get("currency") or amount_min is not None or amount_max is not None:
        # Amounts compare only within one currency.
        qs = qs.filter(currency=f.get("currency") or seller.default_currency)
    if amount_min is not None:
        qs = qs.filter(**{f"{amount_field}__gte": amount_min})
    if amount_max is not None:
        qs = qs.filter(**{f"{amount_field}__lte": amount_max})
    return qs


def _order_by(sort: str, sorts: dict[str, str]) -> list[str]:
    desc = sort.startswith("-")
    column = sorts.get(sort.lstrip("-"), "created_at")
    return [f"{'-' if desc else ''}{column}", f"{'-' if desc else ''}pk"]


def orders_for_list(seller: Seller, f: dict) -> QuerySet:
    payments = Payment.objects.filter(seller=seller)
    qs = _common(Order.objects.filter(seller=seller), seller, f)
    if f.get("method"):
        qs = qs.filter(pk__in=payments.filter(method=f["method"]).values("order_id"))
    q = (f.get("q") or "").strip()
    if q:
        match = Q(reference__iexact=q) | Q(customer_email__iexact=q) | Q(reference__icontains=q)
        match |= Q(pk__in=payments.filter(tx_id=q).values("order_id"))
        uid = _as_uuid(q)
        if uid:
            match |= Q(pk=uid) | Q(pk__in=payments.filter(pk=uid).values("order_id"))
        qs = qs.filter(match)
    latest = Payment.objects.filter(order=OuterRef("pk")).order_by("-created_at")
    return (qs.annotate(last_method=Subquery(latest.values("method")[:1]),
                        last_tx_id=Subquery(latest.values("tx_id")[:1]))
            .order_by(*_order_by(f.get("sort", "-created"), ORDER_SORTS)))


def payments_for_list(seller: Seller, f: dict) -> QuerySet:
    qs = _common(Payment.objects.filter(seller=seller), seller, f)
    if f.get("method"):
        qs = qs.filter(method=f["method"])
    q = (f.get("q") or "").strip()
    if q:
        match = Q(tx_id=q) | Q(order__reference__iexact=q) | Q(order__customer_email__iexact=q) | Q(provider_ref=q)
        uid = _as_uuid(q)
        if uid:
            match |= Q(pk=uid) | Q(order_id=uid)
        qs = qs.filter(match)
    return qs.select_related("order").order_by(*_order_by(f.get("sort", "-created"), PAYMENT_SORTS))


def _ledger_sum(field: str, **match) -> Coalesce:
    """Sum of one ledger column over the entries matching `match` (OuterRef lookups); 0 when none."""
    entries = (LedgerEntry.objects.filter(**match).order_by().values(*match)
               .annotate(total=Sum(field)).values("total"))
    return Coalesce(Subquery(entries[:1]), 0)


def with_payment_money(qs: QuerySet) -> QuerySet:
    """Payments with fee_total and net_total: sums of their ledger entries, so net is after refunds
    (the platform keeps its fee on refunds). Subqueries, not a query per row."""
    return qs.annotate(fee_total=_ledger_sum("fee", payment=OuterRef("pk")),
                       net_total=_ledger_sum("net", payment=OuterRef("pk")))


def with_order_money(qs: QuerySet) -> QuerySet:
    """Orders with refunded_total, fee_total and net_total over all their payments."""
    refunded = (Payment.objects.filter(order=OuterRef("pk")).order_by().values("order")
                .annotate(total=Sum("refunded_amount")).values("total"))
    return qs.annotate(refunded_total=Coalesce(Subquery(refunded[:1]), 0),
                       fee_total=_ledger_sum("fee", payment__order=OuterRef("pk")),
                       net_total=_ledger_sum("net", payment__order=OuterRef("pk")))


def count_capped(qs: QuerySet) -> tuple[int, bool]:
    """(count, capped): COUNT over at most COUNT_CAP + 1 ids, so it costs the same at 10k and 1M rows."""
    count = qs.order_by().values("pk")[:COUNT_CAP + 1].count()
    return min(count, COUNT_CAP), count > COUNT_CAP


def _as_uuid(text: str):
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


@dataclass
class Page:
    """A page found without counting: fetch one row more than shown to know if there is a next."""

    object_list: list
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def start_index(self) -> int:
        return (self.number - 1) * PAGE_SIZE + 1 if self.object_list else 0

    @property
    def end_index(self) -> int:
        return (self.number - 1) * PAGE_SIZE + len(self.object_list)


def page_of(qs: QuerySet, page_param) -> Page:
    try:
        number = min(max(int(page_param or 1), 1), MAX_PAGE)
    except (TypeError, ValueError):
        number = 1
    offset = (number - 1) * PAGE_SIZE
    rows = list(qs[offset:offset + PAGE_SIZE + 1])
    return Page(rows[:PAGE_SIZE], number, len(rows) > PAGE_SIZE)

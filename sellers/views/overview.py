"""/dashboard/: KPIs, charts and recent payments for a date range in the seller's timezone."""
from __future__ import annotations

from urllib.parse import urlencode

from django.shortcuts import render

from payments import analytics
from payments.models import Payment
from sellers.models import METHOD_CHOICES
from sellers.money import SYMBOLS, minor_to_decimal
from sellers.views.mixins import seller_required

METHOD_LABELS = dict(METHOD_CHOICES)
METHOD_COLOURS = {"nano": "#2563eb", "razorpay": "#0ea5e9", "coinpay": "#f59e0b"}
FUNNEL_COLOURS = ["#64748b", "#2563eb", "#16a34a", "#d97706", "#dc2626"]


def _major(amount: int, currency: str) -> str:
    # Chart.js wants numbers; JSON numbers from exact Decimal text, display only.
    return str(minor_to_decimal(amount, currency))


def _charts(data: analytics.Overview) -> dict:
    currency = data.currency
    fmt = {"valuePrefix": SYMBOLS.get(currency, ""), "valueSuffix": "" if currency in SYMBOLS else f" {currency}"}
    volume = {
        "type": "line",
        "data": {"labels": [d.isoformat() for d in data.days],
                 "datasets": [{"label": f"Volume ({currency})",
                               "data": [float(_major(v, currency)) for v in data.volume_by_day],
                               "borderColor": "#2563eb", "backgroundColor": "rgba(37,99,235,.12)", "fill": True,
                               "tension": 0.25, "pointRadius": 0 if len(data.days) > 45 else 2}]},
        "options": {"responsive": True, "maintainAspectRatio": False, "plugins": {"legend": {"display": False}},
                    "scales": {"y": {"beginAtZero": True}}},
        "kassa": {**fmt, "axis": "y"},
    }
    methods = list(data.by_method)
    by_method = {
        "type": "doughnut",
        "data": {"labels": [METHOD_LABELS.get(m, m) for m in methods],
                 "datasets": [{"data": [float(_major(data.by_method[m], currency)) for m in methods],
                               "backgroundColor": [METHOD_COLOURS.get(m, "#94a3b8") for m in methods]}]},
        "options": {"responsive": True, "maintainAspectRatio": False, "plugins": {"legend": {"position": "bottom"}}},
    }
    funnel = {
        "type": "bar",
        "data": {"labels": list(data.funnel),
                 "datasets": [{"label": "Count", "data": list(data.funnel.values()),
                               "backgroundColor": FUNNEL_COLOURS}]},
        "options": {"indexAxis": "y", "responsive": True, "maintainAspectRatio": False,
                    "plugins": {"legend": {"display": False}}, "scales": {"x": {"beginAtZero": True}}},
    }
    return {"volume": volume, "by_method": by_method, "funnel": funnel}


def _list_links(data: analytics.Overview) -> dict[str, str]:
    """Each figure links to the list it counts: same range (local days), same currency."""
    scope = {"currency": data.currency, "date_from": data.range.start.isoformat(),
             "date_to": data.range.end.isoformat()}
    return {
        "payments_paid": "/dashboard/payments/?" + urlencode({"status": "any_paid", **scope}),
        "orders_paid": "/dashboard/orders/?" + urlencode({"status": "any_paid", **scope}),
        "orders_all": "/dashboard/orders/?" + urlencode(scope),
        "orders_expired": "/dashboard/orders/?" + urlencode({"status": "expired", **scope}),
        "payments_refunded": "/dashboard/payments/?" + urlencode({"status": "any_refunded", **scope}),
        "payments_pending": "/dashboard/payments/?status=pending",
    }


@seller_required
def overview(request):
    seller = request.seller
    date_range, range_error = analytics.date_range_parse(request.GET, seller)
    data = analytics.overview(seller, date_range, request.GET.get("currency"))
    recent = (Payment.objects.filter(seller=seller).select_related("order")
              .only("id", "method", "status", "exceptions", "currency", "amount", "created_at", "order__id",
                    "order__reference")[:10])
    return render(request, "dashboard/overview.html", {
        "data": data, "kpi": data.current, "deltas": data.deltas, "currency": data.currency,
        "range_error": range_error, "range_labels": analytics.RANGE_LABELS,
        "charts": _charts(data) if data.has_any_orders else None, "recent_payments": recent,
        "links": _list_links(data),
    })

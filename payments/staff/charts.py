"""Chart.js configs for the analytics page (rendered by templates/includes/chart.html).

Chart values are major units for display only; every figure in a table or CSV is exact.
"""
from datetime import date

from sellers.models import METHOD_CHOICES
from sellers.money import SYMBOLS, minor_to_decimal

COLORS = {"nano": "#2563eb", "razorpay": "#0f766e", "coinpay": "#d97706"}


def _major(amount_minor: int, currency: str) -> float:
    return float(minor_to_decimal(amount_minor, currency))


def _value_format(currency: str, axis: str = "y") -> dict:
    return {"valuePrefix": SYMBOLS.get(currency, ""), "valueSuffix": "" if currency in SYMBOLS else f" {currency}",
            "axis": axis}


def gmv_chart(by_method: dict[str, dict[date, int]], rng, currency: str) -> dict:
    days = rng.days()
    datasets = [
        {"label": label, "backgroundColor": COLORS[method], "stack": "gmv",
         "data": [_major(by_method.get(method, {}).get(day, 0), currency) for day in days]}
        for method, label in METHOD_CHOICES
    ]
    return {"type": "bar", "data": {"labels": [day.isoformat() for day in days], "datasets": datasets},
            "options": {"scales": {"x": {"stacked": True}, "y": {"stacked": True, "beginAtZero": True}},
                        "plugins": {"legend": {"position": "bottom"}}},
            "kassa": _value_format(currency)}


def top_sellers_chart(sellers, currency: str) -> dict:
    return {"type": "bar",
            "data": {"labels": [s.name for s in sellers],
                     "datasets": [{"label": f"Volume ({currency})", "backgroundColor": "#417690",
                                   "data": [_major(s.volume, currency) for s in sellers]}]},
            "options": {"indexAxis": "y", "plugins": {"legend": {"display": False}},
                        "scales": {"x": {"beginAtZero": True}}},
            "kassa": _value_format(currency, axis="x")}

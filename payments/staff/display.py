"""Admin columns that show money the way the shopper's pages do ("₹1,798.00", "Ӿ28.000000").

Amounts are stored as integers in minor units; a bare 179800 next to "INR" is a misreading
waiting to happen, so every admin list, change page and inline uses these instead.
"""
from __future__ import annotations

from django.contrib import admin

from sellers.money import format_minor


def money_column(amount_field: str, currency_field: str, description: str | None = None):
    """A list_display / readonly_fields callable: obj.<amount_field> in obj.<currency_field>.

    Dotted currency paths ("payment.currency") follow relations (select them related).
    """
    def column(*args):
        obj = args[-1]  # called as a ModelAdmin method (self, obj) or a plain function (obj)
        currency = obj
        for part in currency_field.split("."):
            currency = getattr(currency, part)
        amount = getattr(obj, amount_field)
        return "" if amount is None else format_minor(amount, currency)

    column.__name__ = f"{amount_field}_display"
    return admin.display(description=description or amount_field.replace("_", " "), ordering=amount_field)(column)

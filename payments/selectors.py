"""Reads for payments: scoped querysets and counts."""
from __future__ import annotations

from payments.models import Payment


def review_queue_depth() -> int:
    """The same count the admin index shows (every kind of item in /admin/review/)."""
    from payments.selectors_staff import review_count

    return review_count()


def payments_for_seller(seller):
    return Payment.objects.for_seller(seller).select_related("order")

"""Reads for payments: scoped querysets and counts."""
from __future__ import annotations

from payments.models import InboundWebhook, Payment, Receipt


def review_queue_depth() -> int:
    return (Payment.objects.needs_review().count()
            + Receipt.objects.filter(payment__isnull=True, resolution="").count()
            + InboundWebhook.objects.filter(status=InboundWebhook.Status.INVALID).count())


def payments_for_seller(seller):
    return Payment.objects.for_seller(seller).select_related("order")

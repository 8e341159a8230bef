"""Reads for a verified partner shopper's own pages (/me/). Every query is scoped to
the partner user id, so another shopper's order or payment id is a 404."""
from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet
from django.shortcuts import get_object_or_404

from orders.models import Order
from payments.models import Payment, PaymentEvent, RefundRequest

# Shopper wording for timeline events; anything else falls back to the type itself.
EVENT_LABELS = {
    "order.created": "Order placed",
    "order.partner_bound": "Linked to your app account",
    "order.paid": "Order paid",
    "order.fulfilled": "Order fulfilled",
    "order.expired": "Order expired",
    "order.cancelled": "Order cancelled",
    "order.refunded": "Order refunded",
    "order.partially_refunded": "Order partly refunded",
    "order.delivery_updated": "Delivery details updated",
    "order.payment_started": "Payment method chosen",
    "order.reopened": "Order reopened for a new payment",
    "payment.partially_received": "Part of the amount received",
    "payment.started": "Payment started",
    "payment.confirming": "Payment seen, waiting for confirmation",
    "payment.completed": "Payment completed",
    "payment.expired": "Payment timed out",
    "payment.failed": "Payment failed",
    "payment.attempt_failed": "A payment attempt failed; you can try again",
    "payment.cancelled": "Payment cancelled",
    "refund.requested": "Refund started",
    "refund.succeeded": "Refund completed",
    "refund.failed": "Refund failed",
    "refund_request.created": "You asked for a refund",
    "refund_request.approved": "The seller approved your refund request",
    "refund_request.declined": "The seller declined your refund request",
}


def _with_open_request(queryset: QuerySet[Payment]) -> QuerySet[Payment]:
    return queryset.annotate(has_open_refund_request=Exists(
        RefundRequest.objects.filter(payment=OuterRef("pk"), status=RefundRequest.Status.REQUESTED)))


def partner_payments(*, partner_user_id: str) -> QuerySet[Payment]:
    """The shopper's payments across every seller, newest first (one query per page)."""
    return _with_open_request(
        Payment.objects.filter(order__partner_user_id=partner_user_id).select_related("order", "seller")
    ).order_by("-created_at", "-pk")


def partner_order(*, partner_user_id: str, order_id) -> Order:
    return get_object_or_404(Order.objects.select_related("seller"), pk=order_id, partner_user_id=partner_user_id)


def partner_payment(*, partner_user_id: str, payment_id) -> Payment:
    return get_object_or_404(Payment.objects.select_related("order", "seller"), pk=payment_id,
                             order__partner_user_id=partner_user_id)


def partner_order_payments(*, order: Order) -> list[Payment]:
    return list(_with_open_request(order.payments.all()).order_by("created_at", "pk"))


def _event_row(event, *, is_payment: bool) -> dict:
    label = EVENT_LABELS.get(event.type) or event.type.replace("_", " ").replace(".", " ").capitalize()
    return {"created_at": event.created_at, "label": label, "type": event.type,
            "from_status": event.from_status, "to_status": event.to_status,
            "method": event.payment.method if is_payment else "", "sort": (event.created_at, is_payment, event.pk)}


def partner_order_timeline(*, order: Order) -> list[dict]:
    """OrderEvent and PaymentEvent rows merged, oldest first (two queries).

    Rows are reduced to what a shopper may see: no event data (it holds provider
    payloads, refund ids and staff notes) and no actor users.
    """
    rows = [_event_row(event, is_payment=False) for event in order.events.all()]
    rows += [_event_row(event, is_payment=True)
             for event in PaymentEvent.objects.filter(payment__order=order).select_related("payment")]
    rows.sort(key=lambda row: row["sort"])
    return rows

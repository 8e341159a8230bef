"""The public JSON shape of payments, orders and refunds (README "REST API v1"), shared by
the REST API and outbound webhooks so the two never drift apart."""
from __future__ import annotations

from core.nano_codec import format_raw
from payments.money import due_in_wire_units
from payments.providers.nano import payment_uri


def _iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def payment_data(payment) -> dict:
    return {
        "id": str(payment.pk),
        "object": "payment",
        "order": str(payment.order_id),
        "method": payment.method,
        "status": payment.status,
        "exceptions": list(payment.exceptions),
        "currency": payment.currency,
        "amount": payment.amount,
        "pay_currency": payment.pay_currency,
        # Smallest unit of pay_currency as a string: raw for XNO (beyond 64 bits).
        "amount_due": str(due_in_wire_units(payment.amount_due, payment.pay_currency)),
        "amount_received": payment.amount_received,
        "pay_to": payment.pay_to,
        "payment_uri": payment.payment_uri,
        "expires_at": _iso(payment.expires_at),
        "completed_at": _iso(payment.completed_at),
        "tx_id": payment.tx_id,
        "refunded_amount": payment.refunded_amount,
        "created_at": _iso(payment.created_at),
    }


def order_data(order) -> dict:
    return {
        "id": str(order.pk),
        "object": "order",
        "reference": order.reference,
        "status": order.status,
        "currency": order.currency,
        "amount": order.amount,
        "customer_email": order.customer_email,
        "metadata": order.metadata,
        "paid_at": _iso(order.paid_at),
        "created_at": _iso(order.created_at),
    }


def refund_data(refund) -> dict:
    return {
        "id": str(refund.pk),
        "object": "refund",
        "payment": str(refund.payment_id),
        "amount": refund.amount,
        "status": refund.status,
        "reason": refund.reason,
        "failure_reason": refund.failure_reason,
        "created_at": _iso(refund.created_at),
        "completed_at": _iso(refund.completed_at),
        "nano_send": nano_send_data(refund),
    }


def nano_send_data(refund) -> dict | None:
    """A Nano refund is sent by the seller (Kassa cannot move their XNO): exactly what to send,
    and the send block once the node shows it. None for the other methods."""
    if not refund.send_to:
        return None

    raw = int(refund.amount_raw)
    return {
        "from": refund.send_from,
        "to": refund.send_to,
        "amount_raw": refund.amount_raw,
        "amount_xno": format_raw(raw),
        "uri": payment_uri(refund.send_to, raw),
        "block": refund.provider_refund_id if refund.status == "succeeded" else "",
    }

"""The emails that money events cause, composed here and queued through notifications.

Each function is called by a service inside the transaction that makes the change, with the
rows it holds. The outbox key names the kind and the object, so a fact applied twice
queues one email (notifications.services.queue_email).
"""
from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from notifications.kinds import Kind
from notifications.selectors import seller_email_settings, seller_recipients
from notifications.services import queue_email
from orders.models import Order
from payments.models import Payment, Receipt, Refund, RefundRequest, Settlement
from sellers.models import PayoutDestination, Seller
from sellers.money import format_minor

METHOD_LABELS = {"nano": "Nano (XNO)", "razorpay": "Razorpay", "coinpay": "CoinPay"}
ATTENTION_TEXT = {
    Payment.Exception_.PAID_LATE: "Money arrived after the payment had closed. Accept it or refund it.",
    Payment.Exception_.DUPLICATE: "A second payment completed on an order that was already paid.",
    Payment.Exception_.OVERPAID: "The shopper paid more than was due.",
    Payment.Exception_.UNDERPAID: "The payment expired with less than the amount due received.",
}


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _status_url(order: Order) -> str:
    return _absolute(reverse("shop-done", args=[order.checkout_token]))


def _order_url(order_id) -> str:
    return _absolute(reverse("dashboard:order_detail", args=[order_id]))


def _reference(order: Order) -> str:
    return order.reference or str(order.pk)[:8]


def _shopper_footer(seller: Seller) -> str:
    contact = f" Questions: {seller.support_email}" if seller.support_email else ""
    return f"Sent by Kassa on behalf of {seller.name}.{contact}"


def _seller_notice(kind: str, key: str, seller: Seller, subject: str, config=None, **context) -> None:
    queue_email(kind=kind, key=key, to=seller_recipients(seller, kind, config), subject=subject, template="notice",
                context={"brand": seller.name, "heading": subject, **context}, seller=seller)


# --- shoppers ------------------------------------------------------------------------

def receipt_queue(payment: Payment, order: Order) -> None:
    """The shopper's receipt when a payment pays its order."""
    if not order.customer_email:
        return
    seller = payment.seller
    items = [{"name": item.name, "quantity": item.quantity, "amount": format_minor(item.amount, order.currency)}
             for item in order.items.all()]
    reference = _reference(order)
    queue_email(
        kind=Kind.RECEIPT, key=f"receipt:payment:{payment.pk}", to=[order.customer_email], seller=seller,
        subject=f"Your receipt from {seller.name} ({reference})", template="receipt",
        context={"seller_name": seller.name, "support_email": seller.support_email, "items": items,
                 "amount": format_minor(payment.amount, payment.currency),
                 "method": METHOD_LABELS.get(payment.method, payment.method), "reference": reference,
                 "tx_id": payment.tx_id, "status_url": _status_url(order)})


def _shopper_notice(kind: str, key: str, order: Order, subject: str, **context) -> None:
    if order.customer_email:
        queue_email(kind=kind, key=key, to=[order.customer_email], subject=subject, template="notice",
                    seller=order.seller, context={"brand": order.seller.name, "heading": subject,
                                                  "footer": _shopper_footer(order.seller), **context})


def paid_late_queue(payment: Payment) -> None:
    """Shopper: the money arrived after the payment closed and waits for review; seller: attention."""
    order = payment.order
    _shopper_notice(Kind.PAID_LATE, f"paid_late:payment:{payment.pk}", order,
                    f"Your payment to {order.seller.name} arrived late",
                    lines=["Your money arrived after the payment window had closed. Nothing is lost: "
                           f"{order.seller.name} will either accept it or send it back, and we will email you."],
                    facts=[("Order reference", _reference(order)),
                           ("Amount", format_minor(payment.amount, payment.currency))],
                    link=_status_url(order), link_label="View your order")


def refund_succeeded_queue(refund: Refund, payment: Payment) -> None:
    order = payment.order
    _shopper_notice(Kind.REFUND_SUCCEEDED, f"refund_succeeded:refund:{refund.pk}", order,
                    f"{order.seller.name} refunded {format_minor(refund.amount, payment.currency)}",
                    lines=["Your refund has been sent. Depending on your bank or wallet it may take a few days "
                           "to show."],
                    facts=[("Order reference", _reference(order)),
                           ("Refunded", format_minor(refund.amount, payment.currency)),
                           ("Method", METHOD_LABELS.get(payment.method, payment.method))],
                    link=_status_url(order), link_label="View your order")


def refund_awaiting_seller_queue(refund: Refund, payment: Payment) -> None:
    """Nano: the refund is the seller's own send, which may take a while."""
    order = payment.order
    _shopper_notice(Kind.REFUND_AWAITING_SELLER, f"refund_awaiting_seller:refund:{refund.pk}", order,
                    f"{order.seller.name} is refunding your payment",
                    lines=[f"{order.seller.name} agreed to refund {format_minor(refund.amount, payment.currency)}. "
                           "Nano refunds are sent by the seller's own wallet; we will email you once the node "
                           "shows the send."],
                    facts=[("Order reference", _reference(order)), ("To your account", refund.send_to or "—")],
                    link=_status_url(order), link_label="View your order")


# --- sellers -------------------------------------------------------------------------

def order_paid_queue(payment: Payment, order: Order) -> None:
    seller = payment.seller
    config = seller_email_settings(seller)
    if config.order_paid_mode != "each":
        return  # the daily digest (payments.notice_reports) covers it
    amount = format_minor(payment.amount, payment.currency)
    _seller_notice(Kind.ORDER_PAID, f"order_paid:order:{order.pk}", seller,
                   f"Order {_reference(order)} paid: {amount}", config=config,
                   facts=[("Order", _reference(order)), ("Amount", amount),
                          ("Method", METHOD_LABELS.get(payment.method, payment.method)),
                          ("Shopper", order.customer_email or "—")],
                   link=_order_url(order.pk), link_label="Open the order")


def money_attention_queue(payment: Payment, code: str) -> None:
    """paid_late, duplicate, overpaid or underpaid on one of the seller's payments."""
    if code not in ATTENTION_TEXT:
        return
    order = payment.order
    _seller_notice(Kind.MONEY_ATTENTION, f"money_attention:{code}:payment:{payment.pk}", payment.seller,
                   f"Money needs your attention: {code.replace('_', ' ')} on order {_reference(order)}",
                   lines=[ATTENTION_TEXT[code]],
                   facts=[("Order", _reference(order)), ("Amount due", format_minor(payment.amount, payment.currency)),
                          ("Method", METHOD_LABELS.get(payment.method, payment.method))],
                   link=_order_url(order.pk), link_label="Open the order")


def unmatched_receipt_queue(receipt: Receipt) -> None:
    """Money to a seller's own Nano address that matches none of its payments."""
    if not receipt.pay_to:
        return
    destination = (PayoutDestination.objects.select_related("seller")
                   .filter(method=receipt.provider, value=receipt.pay_to).first())
    if destination is None:
        return
    _seller_notice(Kind.MONEY_ATTENTION, f"money_attention:unmatched:receipt:{receipt.pk}", destination.seller,
                   "Money needs your attention: an unmatched receipt on your address",
                   lines=["Money arrived on your address that matches none of your payments. Kassa staff review it "
                          "and will assign or return it."],
                   facts=[("Address", receipt.pay_to), ("Transaction", receipt.external_tx_id)])


def refund_request_queue(request: RefundRequest, payment: Payment) -> None:
    order = payment.order
    _seller_notice(Kind.REFUND_REQUEST, f"refund_request:{request.pk}", payment.seller,
                   f"A shopper asks for a refund on order {_reference(order)}",
                   lines=[f"Reason given: {request.reason or '(none)'}"],
                   facts=[("Order", _reference(order)), ("Paid", format_minor(payment.amount, payment.currency))],
                   link=_absolute(reverse("dashboard:refund_requests")), link_label="Decide")


def settlement_failed_queue(settlement: Settlement) -> None:
    _seller_notice(Kind.SETTLEMENT_FAILED, f"settlement_failed:settlement:{settlement.pk}", settlement.seller,
                   f"A {settlement.get_kind_display()} to you failed",
                   lines=["The money is owed to you again and the next settlement run retries it. If your payout "
                          "details changed, update them on the settings page."],
                   facts=[("Amount", format_minor(abs(settlement.amount), settlement.currency)),
                          ("Reason", settlement.failure_reason or "—")],
                   link=_absolute(reverse("dashboard:settings")), link_label="Check payout settings")

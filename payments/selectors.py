"""Reads for payments: scoped querysets and counts."""
from __future__ import annotations

from orders.models import Order
from payments.models import Payment, Receipt, Refund
from payments.selectors_staff import review_count


def review_queue_depth() -> int:
    """The same count the admin index shows (every kind of item in /admin/review/)."""
    return review_count()


def payments_for_seller(seller):
    return Payment.objects.for_seller(seller).select_related("order")


# --- the payment-start hot path ------------------------------------------------------------

def order_locked_for_payment(order_id, seller=None):
    """The order FOR NO KEY UPDATE (its seller row stays unlocked), with its seller and the
    seller's payout destinations loaded; Order.DoesNotExist when absent or, with `seller`,
    another seller's. The active payment is read by a separate statement on purpose: one
    that waited for this lock must see what the lock holder committed, and a later
    statement's snapshot does."""
    orders = Order.objects.filter(seller=seller) if seller is not None else Order.objects
    return (orders.select_for_update(of=("self",), no_key=True).select_related("seller")
            .prefetch_related("seller__payout_destinations").get(pk=order_id))


def active_payment(order, method: str, now) -> Payment | None:
    """The order's newest payment for this method that is still pending and not expired."""
    return (Payment.objects.filter(order=order, method=method, status__in=Payment.ACTIVE_STATUSES,
                                   expires_at__gt=now).order_by("-created_at").first())


def reserved_amounts(pay_to: str, low: int, high: int) -> set[int]:
    """Amounts in [low, high) currently reserved on this address (the unique-amount slots in use)."""
    return set(Payment.objects.filter(pay_to=pay_to, amount_reserved=True, amount_due__gte=low,
                                      amount_due__lt=high).values_list("amount_due", flat=True))


# --- Nano refunds ---------------------------------------------------------------------------

def payment_source_account(payment) -> str:
    """The account that sent this payment's money: its own block's receipt first, else any
    confirmed receipt credited to it ("" when none recorded one)."""
    receipts = Receipt.objects.filter(payment=payment, state=Receipt.State.CONFIRMED).exclude(source_account="")
    for receipt in receipts.order_by("created_at"):
        if receipt.external_tx_id.upper() == (payment.tx_id or "").upper():
            return receipt.source_account
    first = receipts.order_by("created_at").first()
    return first.source_account if first else ""


def refunds_awaiting_seller():
    """Nano refunds the seller has not sent yet, oldest first (the monitor looks for their sends)."""
    return Refund.objects.filter(status=Refund.Status.AWAITING_SELLER).order_by("created_at", "pk")

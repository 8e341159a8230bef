"""Reads for payments: scoped querysets and counts."""
from __future__ import annotations

from django.db.models import prefetch_related_objects

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
    another seller's. The API passes the seller its key lookup already read, so the lock
    does not read that row again. The active payment is read by a separate statement on
    purpose: one that waited for this lock must see what the lock holder committed, and a
    later statement's snapshot does."""
    locked = Order.objects.select_for_update(of=("self",), no_key=True)
    if seller is None:
        return locked.select_related("seller").prefetch_related("seller__payout_destinations").get(pk=order_id)
    order = locked.get(pk=order_id, seller=seller)
    order.seller = seller
    prefetch_related_objects([seller], "payout_destinations")
    return order


def active_payment(order, method: str, now) -> Payment | None:
    """The order's newest payment for this method that is still pending and not expired.
    Almost every start finds none, so the read asks for the id alone; the row is loaded
    only when there is one to reuse (a refresh or a double click)."""
    payment_id = (Payment.objects.filter(order=order, method=method, status__in=Payment.ACTIVE_STATUSES,
                                         expires_at__gt=now)
                  .order_by("-created_at").values_list("pk", flat=True).first())
    return None if payment_id is None else Payment.objects.get(pk=payment_id)


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

"""What a staff action that moves money will do, in words, for its confirmation page.

Only actions listed in CONSEQUENCES ask first (like Django's delete confirmation); the rest
(re-check, expire, dismiss, ignore) run at once. Reads only: nothing here changes state.
"""
from __future__ import annotations

from payments.models import Payment, Receipt, Refund, Settlement, method_name
from sellers.money import format_minor


def _left_to_refund(payment: Payment) -> int:
    in_flight = sum(payment.refunds.filter(status__in=Refund.OPEN_STATUSES).values_list("amount", flat=True))
    return max(payment.amount - payment.refunded_amount - in_flight, 0)


def _money(amount: int, payment: Payment) -> str:
    return format_minor(amount, payment.currency)


def _refund(payment: Payment) -> str:
    left = _left_to_refund(payment)
    if left == 0:
        return f"Nothing is left to refund on this payment of {_money(payment.amount, payment)}; nothing will move."
    who = ("The seller sends it from their own Nano wallet; Kassa waits for the send."
           if payment.method == "nano" else f"{method_name(payment.method)} returns it to the shopper.")
    return (f"Refund {_money(left, payment)} of {_money(payment.amount, payment)} to the shopper. {who} "
            f"The seller's net drops by {_money(left, payment)}; the platform keeps its fee.")


def _accept_late(payment: Payment) -> str:
    return (f"Accept {payment.amount_received_display} that arrived after the payment closed: the payment completes, "
            f"order {payment.order} is marked paid and {_money(payment.amount, payment)} is credited to "
            f"{payment.seller} (less the platform fee).")


def _refund_late(payment: Payment) -> str:
    who = ("The seller must send it back from their own Nano wallet; Kassa waits for the send."
           if payment.method == "nano" else f"{method_name(payment.method)} returns it to the shopper.")
    return (f"Send the late {payment.amount_received_display} back to the shopper; order {payment.order} stays "
            f"unpaid. {who}")


def _refund_duplicate(payment: Payment) -> str:
    return (f"Refund this duplicate payment of {_money(_left_to_refund(payment), payment)} in full and close its "
            f"review; order {payment.order} stays paid by its other payment.")


def _retry_settlement(settlement: Settlement) -> str:
    return (f"Run {settlement.get_kind_display().lower()} of {format_minor(settlement.amount, settlement.currency)} "
            f"to {settlement.seller} ({settlement.destination or 'their payout destination'}) again: "
            f"money leaves the platform's {method_name(settlement.method)} account.")


def receipt_assignment(receipt: Receipt, payment: Payment) -> str:
    return (f"Credit {receipt.amount_display} to payment {payment} of order {payment.order}: the money is applied as "
            f"if it had matched, which may complete the payment and mark the order paid for {payment.seller}.")


CONSEQUENCES = {
    "refund": _refund,
    "accept_late": _accept_late,
    "refund_late": _refund_late,
    "refund_duplicate": _refund_duplicate,
    "retry_settlement": _retry_settlement,
}


def moves_money(code: str) -> bool:
    return code in CONSEQUENCES


def consequence(code: str, obj) -> str:
    return CONSEQUENCES[code](obj)

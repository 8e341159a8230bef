"""The order state machine, in one table:
open → paid → fulfilled; open → expired | cancelled; paid → partially_refunded | refunded.

An expired order can still become paid when staff accept a late payment, and a
fulfilled order can still be refunded.
"""
ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"paid", "expired", "cancelled"}),
    "expired": frozenset({"open", "paid"}),
    "cancelled": frozenset({"paid"}),
    "paid": frozenset({"fulfilled", "partially_refunded", "refunded"}),
    "fulfilled": frozenset({"partially_refunded", "refunded"}),
    "partially_refunded": frozenset({"partially_refunded", "refunded"}),
    "refunded": frozenset(),
}


def order_can_transition(from_status: str, to_status: str) -> bool:
    return to_status in ORDER_TRANSITIONS.get(from_status, frozenset())

"""The payment state machine: every allowed transition, in one table.

    pending ──seen/authorized──▶ confirming ──▶ completed ──▶ partially_refunded ──▶ refunded
       │                             │              └───────────────────────────────▶ refunded
       ├──expires_at passed──▶ expired
       ├──gateway failure──▶ failed ◀──┘
       └──shopper/seller/staff──▶ cancelled

Late money revives an expired or cancelled payment only through staff acceptance
(exception `paid_late`), which is why expired/cancelled → completed is listed.
"""
PAYMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"confirming", "completed", "expired", "failed", "cancelled"}),
    "confirming": frozenset({"completed", "failed"}),
    "completed": frozenset({"partially_refunded", "refunded"}),
    "partially_refunded": frozenset({"partially_refunded", "refunded"}),
    "expired": frozenset({"completed"}),
    "cancelled": frozenset({"completed"}),
    "failed": frozenset(),
    "refunded": frozenset(),
}

TERMINAL = frozenset(state for state, targets in PAYMENT_TRANSITIONS.items() if not targets)


def payment_can_transition(from_status: str, to_status: str) -> bool:
    return to_status in PAYMENT_TRANSITIONS.get(from_status, frozenset())


# The refund state machine:
#
#     pending ──the provider answers──▶ succeeded | failed                 (Razorpay, CoinPay)
#     awaiting_seller ──the node shows the seller's send──▶ succeeded      (Nano: non-custodial,
#            │                                                              Kassa cannot send it)
#            └──the seller gives up on it──▶ cancelled                      (frees what is left)
REFUND_TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"succeeded", "failed"}),
    "awaiting_seller": frozenset({"succeeded", "cancelled"}),
    "succeeded": frozenset(),
    "failed": frozenset(),
    "cancelled": frozenset(),
}

REFUND_TERMINAL = frozenset(state for state, targets in REFUND_TRANSITIONS.items() if not targets)


def refund_can_transition(from_status: str, to_status: str) -> bool:
    return to_status in REFUND_TRANSITIONS.get(from_status, frozenset())

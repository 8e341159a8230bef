"""Every payment state change. Views, tasks, admin actions and the API call these.

Rules (docs/architecture.md): each function runs in transaction.atomic(), guards the row with
select_for_update() (or a conditional UPDATE), writes a PaymentEvent in the same
transaction, and sends notifications only after commit.

The package's modules: transitions (the guarded transition and its event), start, observations
(observation_apply), ledger, expiry, review (people's actions) and refunds; their public names are
re-exported here.
"""
from __future__ import annotations

from orders.services import OrderError
from payments.providers.base import Quote
from payments.services.expiry import payment_expire_stale, payment_release_reservations
from payments.services.ledger import ledger_record_payment
from payments.services.observations import ApplyResult, observation_apply
from payments.services.refunds import (
    is_late_refundable,
    payment_refund,
    refund_cancel,
    refund_mark_failed,
    refund_mark_succeeded,
    refund_nano_send_record,
    refund_nano_verify,
    refund_reconcile,
    refund_request_create,
    refund_request_decide,
    refunds_reconcile_pending,
    settled_its_order,
)
from payments.services.review import (
    payment_accept_late,
    payment_cancel,
    payment_check_soon,
    payment_expire_now,
    payment_resolve_review,
    payment_verify,
    receipt_assign,
    receipt_dispute,
)
from payments.services.start import check_method_available, payment_attach_instructions, payment_start
from payments.services.transitions import PaymentStateError, payment_event_write, payment_transition

__all__ = [
    "ApplyResult",
    "OrderError",
    "PaymentStateError",
    "Quote",
    "check_method_available",
    "is_late_refundable",
    "ledger_record_payment",
    "observation_apply",
    "payment_accept_late",
    "payment_attach_instructions",
    "payment_cancel",
    "payment_check_soon",
    "payment_event_write",
    "payment_expire_now",
    "payment_expire_stale",
    "payment_refund",
    "payment_release_reservations",
    "payment_resolve_review",
    "payment_start",
    "payment_transition",
    "payment_verify",
    "receipt_assign",
    "receipt_dispute",
    "refund_cancel",
    "refund_mark_failed",
    "refund_mark_succeeded",
    "refund_nano_send_record",
    "refund_nano_verify",
    "refund_reconcile",
    "refund_request_create",
    "refund_request_decide",
    "refunds_reconcile_pending",
    "settled_its_order",
]

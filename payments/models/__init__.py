"""Payments, the facts we observe about money, refunds, inbound webhooks,
and the ledger. Status changes only through payments.services.

One module per concern; every model and helper stays importable from here."""
from payments.models.inbound import InboundWebhook
from payments.models.ledger import LedgerEntry, LedgerEntryQuerySet, SettlementItem, SettlementItemQuerySet
from payments.models.nano import NanoCursor
from payments.models.payment import Payment, PaymentEvent, PaymentQuerySet, method_name
from payments.models.receipt import Receipt
from payments.models.refund import Refund, RefundRequest
from payments.models.settlement import Settlement

__all__ = [
    "InboundWebhook",
    "LedgerEntry",
    "LedgerEntryQuerySet",
    "NanoCursor",
    "Payment",
    "PaymentEvent",
    "PaymentQuerySet",
    "Receipt",
    "Refund",
    "RefundRequest",
    "Settlement",
    "SettlementItem",
    "SettlementItemQuerySet",
    "method_name",
]

"""Provider-neutral facts parsed from a gateway webhook (Razorpay, CoinPay).

A webhook can carry more than money-in: refunds and settlements change state too.
Providers return one GatewayEvent; payments.webhooks dispatches on `type`.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from config import json_input
from payments.providers.base import Observation
from payments.providers.errors import SignatureInvalid
from sellers.money import MAX_AMOUNT_MINOR


@dataclass(frozen=True)
class RefundUpdate:
    provider_refund_id: str
    status: str                      # succeeded | failed | pending
    amount: int = 0
    kassa_refund_id: str = ""        # our Refund id, echoed from notes/metadata
    failure_reason: str = ""


@dataclass(frozen=True)
class SettlementUpdate:
    provider_ref: str                # transfer / payout id
    status: str                      # paid | failed | reversed
    kassa_settlement_id: str = ""
    failure_reason: str = ""


@dataclass(frozen=True)
class GatewayEvent:
    provider: str
    event_id: str
    type: str
    observations: list[Observation] = field(default_factory=list)
    refund: RefundUpdate | None = None
    settlement: SettlementUpdate | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


class SignedWebhooks:
    """Shared by the gateway providers: verify the raw body's signature, then read it.

    Subclasses define `code`, `webhook_signature_valid(body, headers)` and `read_event`.
    """

    code: str

    def parse_event(self, body: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        """Raises SignatureInvalid, or ValueError for a body that is not a JSON object."""
        if not self.webhook_signature_valid(body, headers):
            raise SignatureInvalid(f"{self.code} webhook signature mismatch", provider=self.code)
        return self.read_event(body, headers)


def json_object(body: bytes) -> dict:
    """The body as a JSON object (ValueError for anything else, hostile nesting included)."""
    data = json_input.loads(body)
    if not isinstance(data, dict):
        raise ValueError("webhook body is not a JSON object")
    return data


class UnprocessableEvent(ValueError):
    """A signed event whose content we cannot apply (an amount no column can hold): kept for staff
    with this reason, never retried."""


def gateway_amount(value: Any) -> int:
    """A gateway amount in minor units, exactly: an int or a digit string within MAX_AMOUNT_MINOR.

    int() would truncate 100.7 to 100, and 10**40 would only fail at the database.
    """
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UnprocessableEvent(f"amount {value!r} is not a whole number of minor units")
    if not 0 <= value <= MAX_AMOUNT_MINOR:
        raise UnprocessableEvent(f"amount {value} is outside 0..{MAX_AMOUNT_MINOR}")
    return value

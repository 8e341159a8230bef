"""Provider-neutral facts parsed from a gateway webhook (Razorpay, CoinPay).

A webhook can carry more than money-in: refunds and settlements change state too.
Providers return one GatewayEvent; payments.webhooks dispatches on `type`.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from payments.providers.base import Observation


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

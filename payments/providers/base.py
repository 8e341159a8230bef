"""The one protocol every payment provider implements, and the provider-neutral
facts they return. Providers never touch the ORM: they read the payment they are
given and return dataclasses; payments.services turns facts into transitions."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover
    from orders.models import Order
    from payments.models import Payment
    from payments.providers.gateway_events import GatewayEvent
    from sellers.models import Seller


@dataclass(frozen=True)
class Quote:
    """What a method charges for an order: pay_currency minor units, and where to."""

    pay_currency: str
    amount_due: int
    pay_to: str = ""
    rate: object = None
    rate_source: str = ""
    unique_amount: bool = False


@dataclass(frozen=True)
class PaymentInstructions:
    """What the pay page shows, and what start() learned from the provider."""

    pay_to: str = ""                 # Nano address, or the gateway's order id
    payment_uri: str = ""            # nano:<address>?amount=<raw>, or a hosted checkout URL
    provider_ref: str = ""           # gateway order/transaction id
    qr_svg: str = ""                 # inline SVG (segno), Nano only
    checkout_params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Observation:
    """A fact about money: "external_tx_id moved `amount` to `pay_to` for `payment_ref`".

    `amount` is in wire units (raw for XNO, minor for fiat). `confirmed` means final;
    `failed` means the provider says this attempt failed; `retryable` (with `failed`)
    means the gateway still accepts another attempt for the same payment, so the
    payment stays open. The same fact may arrive by webhook, poll and shopper verify;
    observation_apply applies it once.
    """

    provider: str
    external_tx_id: str
    amount: int = 0
    confirmed: bool = False
    failed: bool = False
    retryable: bool = False
    payment_ref: str = ""            # our payment id, when the provider echoes it
    provider_ref: str = ""           # gateway order/transaction id
    pay_to: str = ""                 # Nano: the receiving address (matched with amount)
    source_account: str = ""
    failure_reason: str = ""
    observed_at: datetime | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundResult:
    provider_refund_id: str = ""
    status: str = "pending"          # pending | succeeded | failed
    failure_reason: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class PaymentProvider(Protocol):
    """Exactly what callers use. A member that does not apply to a method still exists and raises
    Unsupported (payments.providers.errors), so no caller probes with getattr."""

    code: str
    start_is_local: bool  # start() only formats instructions (no call out): asked inside payment_start's transaction

    def is_available(self, seller: Seller, order: Order) -> bool: ...

    def quote(self, seller: Seller, order: Order) -> Quote: ...

    def start(self, payment: Payment) -> PaymentInstructions: ...

    def poll(self, payments: list[Payment]) -> list[Observation]: ...

    def verify(self, payment: Payment, reference: str) -> list[Observation]: ...

    def capture(self, observation: Observation) -> Observation | None:
        """Capture the authorized attempt `observation` saw; the captured fact, or None."""
        ...

    def webhook_signature_valid(self, body: bytes, headers: Mapping[str, str]) -> bool: ...

    def webhook_event_id(self, body: bytes, headers: Mapping[str, str]) -> str: ...

    def read_event(self, body: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        """Read a body whose signature verified (ValueError when it is not a JSON object)."""
        ...

    def refund(self, payment: Payment, amount_minor: int, *, idempotency_key: str) -> RefundResult: ...

    def refund_lookup(self, payment: Payment, *, refund_id: str, provider_refund_id: str = "") -> RefundResult | None:
        """The provider's own record of the refund Kassa keyed `refund_id` (None: it has none)."""
        ...

"""The payment error hierarchy.

Two audiences read every error:

- the **shopper** (or seller) sees ``exc.user_message``: friendly, never a detail;
- the **log** gets ``str(exc)`` and the attributes: provider, status, codes, reasons.

``code`` and ``http_status`` are class-level hints for the API's error envelope
(``{"error": {"code": ..., "message": user_message}}``); views may override them.

    PaymentError
    ├── ProviderError
    │   ├── ProviderUnavailable   network, timeout, 5xx: retry later, never fail the payment
    │   ├── ProviderRejected      4xx or a business refusal from the provider
    │   ├── SignatureInvalid      webhook/handler signature did not verify
    │   └── VerificationFailed    a shopper-reported reference does not check out
    ├── NoFreeAmountSlot          every unique Nano amount for an address is reserved
    └── ProviderNotConfigured     unknown method, or credentials/URL missing
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from config.errors import DomainError


class PaymentError(DomainError):
    """Base class. ``str(exc)`` is for logs; ``user_message`` is safe for shoppers."""

    code = "payment_error"
    http_status = 400
    default_user_message = "Something went wrong with this payment. Please try again."

    def __init__(
        self,
        message: str = "",
        *,
        user_message: str | None = None,
        provider: str = "",
        data: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message or self.default_user_message)
        self.message = message or self.default_user_message
        self.user_message = user_message or self.default_user_message
        self.provider = provider
        # Extra context for logs and the review queue; never secrets.
        self.data: Mapping[str, Any] = data or {}


class ProviderError(PaymentError):
    """Anything that went wrong talking to, or because of, a payment provider."""

    code = "provider_error"
    http_status = 502
    default_user_message = "The payment provider could not handle this request. Please try again."


class ProviderUnavailable(ProviderError):
    """Network error, timeout, 5xx, rate limit or unreadable answer.

    Transient: callers retry later (beat ticks back off) and must never mark a
    payment failed because of it. The shopper sees "try again in a moment".
    """

    code = "provider_unavailable"
    http_status = 503
    default_user_message = "The payment network is not reachable right now. Please try again in a moment."

    def __init__(self, message: str = "", *, status: int | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.status = status  # HTTP status when there was one


class ProviderRejected(ProviderError):
    """The provider answered and said no (4xx, RPC ``{"error": ...}``, business refusal).

    Retrying the same request will not help. ``provider_message`` is the provider's
    own text (for logs and staff), ``provider_code`` its error code when it has one.
    """

    code = "provider_rejected"
    http_status = 502
    default_user_message = "The payment provider declined this request."

    def __init__(
        self,
        message: str = "",
        *,
        status: int | None = None,
        provider_code: str = "",
        provider_message: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.status = status
        self.provider_code = provider_code
        self.provider_message = provider_message or message


class SignatureInvalid(ProviderError):
    """A webhook or checkout-handler signature did not verify.

    Webhook views answer 400 and keep the body for audit; the shopper only ever
    sees the generic message (never which part failed).
    """

    code = "signature_invalid"
    http_status = 400
    default_user_message = "We could not verify this payment. Please contact the seller."


class VerificationFailed(ProviderError):
    """A shopper-reported reference (block hash, payment id + signature) does not
    check out: unknown, wrong recipient, wrong amount, unconfirmed...

    ``reason`` is a short machine-friendly slug for logs and tests
    (e.g. ``"block_not_found"``, ``"wrong_destination"``).
    """

    code = "verification_failed"
    http_status = 400
    default_user_message = "We could not find a matching payment for that reference yet."

    def __init__(self, reason: str, message: str = "", **kwargs: Any) -> None:
        super().__init__(message or f"verification failed: {reason}", **kwargs)
        self.reason = reason


class NoFreeAmountSlot(PaymentError):
    """Every unique-amount slot (base + k µXNO) for this address is reserved.

    The shopper is asked to try again later or pick another method; staff see the
    address and the slot range in the log.
    """

    code = "no_free_amount_slot"
    http_status = 409
    default_user_message = (
        "Too many payments are waiting for this seller right now. "
        "Please try again in a few minutes or choose another payment method."
    )


class Unsupported(ProviderRejected):
    """The method has no such operation (a Nano webhook, a CoinPay capture): a "no", never retried."""

    code = "unsupported"


class ProviderNotConfigured(PaymentError):
    """The method is unknown, disabled, or lacks credentials/URL.

    A configuration problem for staff; the shopper just sees the method as
    unavailable.
    """

    code = "provider_not_configured"
    http_status = 400
    default_user_message = "This payment method is not available."

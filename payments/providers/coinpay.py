"""CoinPay: custodial crypto API with JWT login (seed 002).

API subset:
  POST /api/auth/login                    {username, password} → {token, expiresIn (minutes)}
  POST /api/transactions                  create a payment transaction (metadata carries our ids)
  GET  /api/transactions/<id>             read it (fallback poll)
  POST /api/transactions/<id>/refunds     refund all or part (Idempotency-Key header)
  GET  /api/transactions/<id>/refunds     the transaction's refunds (reconciling one in doubt)
  POST /api/payouts                       pay a seller's net balance out (Idempotency-Key: our settlement id)
  GET  /api/payouts?settlementId=<id>     the payout made for a settlement (before any resend)
Webhooks: X-Signature = hex HMAC-SHA256 of the raw body. Amounts on the wire are
decimal strings in major units; here they become exact integers in minor units.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from django.conf import settings

from config import json_input
from payments.providers.base import Observation, PaymentInstructions, Quote, RefundResult
from payments.providers.errors import ProviderRejected, ProviderUnavailable, Unsupported, VerificationFailed
from payments.providers.gateway_events import (
    GatewayEvent,
    RefundUpdate,
    SettlementUpdate,
    SignedWebhooks,
    UnprocessableEvent,
    gateway_amount,
    json_object,
)
from payments.providers.http import ClientsByUrl, JsonHttpClient, header_value
from payments.providers.signatures import body_digest, hmac_matches
from sellers.money import currency_exponent, format_major

TOKEN_MARGIN_SECONDS = 30   # renew a little early so a token never expires mid-request
COMPLETED, FAILED = "completed", "failed"


def to_minor(amount: Any, currency: str) -> int:
    """"499.00" → 49900 exactly; raises UnprocessableEvent (a ValueError) on garbage, fractions below
    the minor unit, or an amount past MAX_AMOUNT_MINOR."""
    text = str(amount)
    try:
        if len(text) > 64:
            raise ValueError("too long")
        with localcontext(prec=200):  # exact for 64 characters: the default 28 digits would round
            value = Decimal(text).scaleb(currency_exponent(currency))
    except (InvalidOperation, ValueError) as exc:
        raise UnprocessableEvent(f"bad amount {text[:64]!r}") from exc
    if not value.is_finite() or value != value.to_integral_value():
        raise UnprocessableEvent(f"amount {amount!r} has more decimals than {currency}")
    return gateway_amount(int(value))



class CoinPayProvider(SignedWebhooks):
    code = "coinpay"
    start_is_local = False  # start() calls the gateway: payment_start asks it after commit

    def __init__(self) -> None:
        self._clients = ClientsByUrl(self.code)
        self._token: str = ""
        self._token_expires: float = 0.0
        self._token_lock = threading.Lock()

    @property
    def client(self) -> JsonHttpClient:
        return self._clients.get(settings.COINPAY_API_URL)

    # --- auth --------------------------------------------------------------------------

    def _login(self) -> str:
        _, answer = self.client.request("POST", "/api/auth/login", json={
            "username": settings.COINPAY_USERNAME, "password": settings.COINPAY_PASSWORD})
        token = str(answer.get("token") or "")
        if not token:
            raise ProviderUnavailable("coinpay login returned no token", provider=self.code)
        minutes = float(answer.get("expiresIn") or 0)
        self._token, self._token_expires = token, time.monotonic() + minutes * 60 - TOKEN_MARGIN_SECONDS
        return token

    def _bearer(self, *, renew: bool = False) -> str:
        with self._token_lock:
            if renew or not self._token or time.monotonic() >= self._token_expires:
                return self._login()
            return self._token

    def _call(self, method: str, path: str, **kwargs) -> Any:
        """Authenticated call; on 401 log in again once and retry (the token was revoked)."""
        extra = kwargs.pop("headers", None) or {}
        for renew in (False, True):
            headers = {**extra, "Authorization": f"Bearer {self._bearer(renew=renew)}"}
            try:
                return self.client.request(method, path, headers=headers, **kwargs)[1]
            except ProviderRejected as exc:
                if exc.status != 401 or renew:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    # --- start -------------------------------------------------------------------------

    def is_available(self, seller, order) -> bool:
        return bool(settings.COINPAY_USERNAME and settings.COINPAY_PASSWORD) and order.amount > 0

    def quote(self, seller, order):
        return Quote(pay_currency=order.currency, amount_due=order.amount)

    def start(self, payment) -> PaymentInstructions:
        order = payment.order
        answer = self._call("POST", "/api/transactions", json={
            "amount": format_major(payment.amount_due, payment.pay_currency),
            "currency": payment.pay_currency,
            "type": "Payment",
            "description": f"Order {order.reference or str(order.pk)[:8]} at {order.seller.name}",
            "metadata": {"orderId": str(order.pk), "paymentId": str(payment.pk)},
        })
        tx_id = str(answer.get("transactionId") or answer.get("id") or "")
        if not tx_id:
            raise ProviderUnavailable("coinpay transaction create returned no id", provider=self.code)
        address = str(answer.get("receiverAddress") or answer.get("receiverName") or "")
        return PaymentInstructions(
            pay_to=address or tx_id, provider_ref=tx_id, payment_uri=str(answer.get("paymentUrl") or ""),
            checkout_params={"transaction_id": tx_id, "address": address, "amount": answer.get("amount"),
                             "currency": answer.get("currency") or payment.pay_currency,
                             # The token and network the address takes: the shopper must send exactly these.
                             "token": str(answer.get("token") or answer.get("cryptoCurrency") or ""),
                             "network": answer.get("network") or "", "hosted_url": answer.get("paymentUrl") or ""},
        )

    # --- facts -------------------------------------------------------------------------

    def observation_from_transaction(self, tx: Mapping[str, Any]) -> Observation | None:
        status = str(tx.get("status") or "").lower()
        tx_id = str(tx.get("transactionId") or tx.get("id") or "")
        if not tx_id or status not in (COMPLETED, FAILED, "confirming"):
            return None
        metadata = tx.get("metadata") if isinstance(tx.get("metadata"), dict) else {}
        currency = str(tx.get("currency") or "")
        return Observation(
            provider=self.code, external_tx_id=tx_id,
            amount=to_minor(tx.get("amount") or 0, currency) if currency else 0,
            confirmed=status == COMPLETED, failed=status == FAILED,
            payment_ref=str(metadata.get("paymentId") or ""), provider_ref=tx_id,
            failure_reason=str(tx.get("error") or "")[:200],
            raw={"coinpay_transaction": tx_id, "status": status, "tx_hash": tx.get("txHash") or ""},
        )

    def fetch_transaction(self, tx_id: str) -> dict:
        return self._call("GET", f"/api/transactions/{tx_id}")

    def capture(self, observation: Observation) -> Observation | None:
        raise Unsupported("CoinPay transactions complete without a capture", provider=self.code)

    def poll(self, payments) -> list[Observation]:
        observations = []
        for payment in payments:
            if payment.provider_ref and (obs := self.observation_from_transaction(
                    self.fetch_transaction(payment.provider_ref))):
                observations.append(obs)
        return observations

    def verify(self, payment, reference: str) -> list[Observation]:
        """CoinPay has no shopper-side proof: re-read the transaction we created."""
        if reference and reference != payment.provider_ref:
            raise VerificationFailed("wrong_transaction", provider=self.code)
        return self.poll([payment])

    # --- webhooks ----------------------------------------------------------------------

    SIGNATURE_HEADER = "X-Signature"
    EVENT_ID_HEADER = "X-Event-Id"

    def webhook_signature_valid(self, body: bytes, headers: Mapping[str, str]) -> bool:
        return hmac_matches(settings.COINPAY_WEBHOOK_SECRET, body, header_value(headers, self.SIGNATURE_HEADER))

    def webhook_event_id(self, body: bytes, headers: Mapping[str, str]) -> str:
        try:
            data = json_input.loads(body)
        except ValueError:
            data = None
        event_id = data.get("id") if isinstance(data, dict) else None
        return str(event_id or header_value(headers, self.EVENT_ID_HEADER) or body_digest(body))[:128]

    def read_event(self, body: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        data = json_object(body)
        event_type = str(data.get("event") or "")
        item = data.get("data") if isinstance(data.get("data"), dict) else {}
        event_id = self.webhook_event_id(body, headers)
        observations, refund, settlement = [], None, None
        metadata = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
        if event_type in ("transaction.completed", "transaction.failed"):
            tx = {**item, "status": COMPLETED if event_type == "transaction.completed" else FAILED}
            if obs := self.observation_from_transaction(tx):
                observations.append(obs)
        elif event_type in ("refund.completed", "refund.failed"):
            refund = RefundUpdate(provider_refund_id=str(item.get("refundId") or item.get("id") or ""),
                                  status="succeeded" if event_type == "refund.completed" else "failed",
                                  kassa_refund_id=str(metadata.get("refundId") or ""),
                                  failure_reason=str(item.get("error") or "refund failed")[:300])
        elif event_type in ("payout.completed", "payout.failed"):
            settlement = SettlementUpdate(provider_ref=str(item.get("payoutId") or item.get("id") or ""),
                                          status="paid" if event_type == "payout.completed" else "failed",
                                          kassa_settlement_id=str(metadata.get("settlementId") or ""),
                                          failure_reason=str(item.get("error") or "")[:300])
        return GatewayEvent(provider=self.code, event_id=event_id[:128], type=event_type,
                            observations=observations, refund=refund, settlement=settlement,
                            raw={"event": event_type})

    # --- refunds and payouts -----------------------------------------------------------

    def refund(self, payment, amount_minor: int, *, idempotency_key: str) -> RefundResult:
        """`idempotency_key` is Kassa's refund id: a resend after a timeout refunds once."""
        if not idempotency_key:
            raise ValueError("a refund needs Kassa's refund id as its idempotency key")
        answer = self._call("POST", f"/api/transactions/{payment.provider_ref}/refunds",
                            headers={"Idempotency-Key": idempotency_key}, json={
                                "amount": format_major(amount_minor, payment.currency), "currency": payment.currency,
                                "metadata": {"paymentId": str(payment.pk), "refundId": idempotency_key}})
        return self._refund_result(answer)

    def refund_lookup(self, payment, *, refund_id: str, provider_refund_id: str = "") -> RefundResult | None:
        """GET /api/transactions/<id>/refunds, matched by CoinPay's id or our metadata.refundId."""
        answer = self._call("GET", f"/api/transactions/{payment.provider_ref}/refunds")
        for item in answer.get("data") or []:
            metadata = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
            if (provider_refund_id and item.get("refundId") == provider_refund_id) or \
                    metadata.get("refundId") == refund_id:
                return self._refund_result(item)
        return None

    def _refund_result(self, answer: Mapping[str, Any]) -> RefundResult:
        status = {"completed": "succeeded", "failed": "failed"}.get(str(answer.get("status") or "").lower(), "pending")
        return RefundResult(provider_refund_id=str(answer.get("refundId") or answer.get("id") or ""), status=status,
                            raw=answer, failure_reason="" if status != "failed" else "CoinPay could not refund.")

    def payout_lookup(self, *, settlement_id: str) -> dict | None:
        """The payout CoinPay made for our settlement id (GET /api/payouts?settlementId=), or None."""
        answer = self._call("GET", "/api/payouts", params={"settlementId": settlement_id})
        for item in answer.get("data") or []:
            metadata = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
            if metadata.get("settlementId") == settlement_id:
                return item
        return None

    def payout_create(self, *, wallet: str, amount: int, currency: str, settlement_id: str) -> dict:
        """Pay `amount` (minor units) to a seller's wallet. Keyed by our settlement id."""
        return self._call("POST", "/api/payouts", headers={"Idempotency-Key": f"kassa-settlement-{settlement_id}"},
                          json={"amount": format_major(amount, currency), "currency": currency,
                                "walletId": wallet, "description": f"Kassa settlement {settlement_id}",
                                "metadata": {"settlementId": settlement_id}})

"""Razorpay (cards, UPI, netbanking) through Orders + hosted checkout, Route transfers.

API subset (REST v1, Basic auth key_id:key_secret):
  POST /v1/orders                       create the order the checkout pays
  GET  /v1/orders/<id>/payments         poll its payment attempts
  GET  /v1/payments/<id>                fetch one payment
  POST /v1/payments/<id>/capture        capture an authorized payment
  POST /v1/payments/<id>/refund         refund (X-Refund-Idempotency header)
  GET  /v1/payments/<id>/refunds        the payment's refunds (reconciling one in doubt)
  POST /v1/payments/<id>/transfers      Route: move the seller's net to a linked account
  POST /v1/transfers/<id>/reversals     reverse a transfer after a refund
Signatures: handler = HMAC-SHA256(order_id|payment_id, key_secret); webhook =
HMAC-SHA256(raw body, webhook secret), both hex. No ORM here: facts only.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings

from payments.providers.base import Observation, PaymentInstructions, Quote, RefundResult
from payments.providers.errors import ProviderRejected, ProviderUnavailable, SignatureInvalid, VerificationFailed
from payments.providers.gateway_events import (
    GatewayEvent,
    RefundUpdate,
    SettlementUpdate,
    SignedWebhooks,
    gateway_amount,
    json_object,
)
from payments.providers.http import ClientsByUrl, JsonHttpClient, header_value
from payments.providers.signatures import body_digest, hmac_matches, razorpay_payment_signature_valid

MIN_AMOUNT = 100                      # Razorpay's minimum order amount: ₹1.00 (100 paise)
SUPPORTED_CURRENCIES = frozenset({"INR", "USD", "EUR"})
RECEIPT_MAX = 40
_REFERENCE_SPLIT = re.compile(r"[\s:|+,]+")
PAYMENT_EVENTS = frozenset({"payment.authorized", "payment.captured", "payment.failed", "order.paid"})


def receipt_for(payment) -> str:
    """Unique per payment and within Razorpay's 40-character limit."""
    return f"kassa_{payment.pk.hex}"[:RECEIPT_MAX]



class RazorpayProvider(SignedWebhooks):
    code = "razorpay"
    start_is_local = False  # start() calls the gateway: payment_start asks it after commit

    def __init__(self) -> None:
        self._clients = ClientsByUrl(self.code)

    # --- configuration ---------------------------------------------------------------

    @property
    def _auth(self) -> tuple[str, str]:
        return settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET

    @property
    def client(self) -> JsonHttpClient:
        return self._clients.get(settings.RAZORPAY_API_URL)

    def _call(self, method: str, path: str, **kwargs) -> Any:
        return self.client.request(method, path, auth=self._auth, **kwargs)[1]

    def is_available(self, seller, order) -> bool:
        return bool(settings.RAZORPAY_KEY_ID and settings.RAZORPAY_KEY_SECRET) and \
            order.currency in SUPPORTED_CURRENCIES and order.amount >= MIN_AMOUNT

    def quote(self, seller, order):
        return Quote(pay_currency=order.currency, amount_due=order.amount)

    # --- start -------------------------------------------------------------------------

    def start(self, payment) -> PaymentInstructions:
        if payment.amount_due < MIN_AMOUNT:
            raise ProviderRejected(f"razorpay amount {payment.amount_due} below minimum",
                                   user_message="This amount is too small to pay by card or UPI.",
                                   provider=self.code)
        order = payment.order
        body = {
            "amount": payment.amount_due,
            "currency": payment.pay_currency,
            "receipt": receipt_for(payment),
            "notes": {"kassa_order_id": str(order.pk), "kassa_payment_id": str(payment.pk)},
        }
        created = self._call("POST", "/v1/orders", json=body)
        order_id = str(created.get("id") or "")
        if not order_id:
            raise ProviderUnavailable("razorpay order create returned no id", provider=self.code)
        callback = f"{settings.SITE_URL}/checkout/{order.checkout_token}/pay/razorpay/callback/"
        params = {
            "checkout_url": settings.RAZORPAY_CHECKOUT_URL,
            "key_id": settings.RAZORPAY_KEY_ID,
            "order_id": order_id,
            "amount": payment.amount_due,
            "currency": payment.pay_currency,
            "name": order.seller.name,
            "description": f"Order {order.reference or str(order.pk)[:8]}",
            "callback_url": callback,
            "prefill_email": order.customer_email,
        }
        return PaymentInstructions(pay_to=order_id, provider_ref=order_id,
                                   payment_uri=settings.RAZORPAY_CHECKOUT_URL, checkout_params=params)

    # --- facts -------------------------------------------------------------------------

    def observation_from_entity(self, entity: Mapping[str, Any]) -> Observation | None:
        """A Razorpay payment entity → Observation (None for states that say nothing yet)."""
        status = entity.get("status")
        payment_id = str(entity.get("id") or "")
        if not payment_id or status not in ("authorized", "captured", "refunded", "failed"):
            return None
        notes = entity.get("notes") if isinstance(entity.get("notes"), dict) else {}
        return Observation(
            provider=self.code,
            external_tx_id=payment_id,
            amount=gateway_amount(entity.get("amount") or 0),
            # "refunded" was captured first: the money did arrive.
            confirmed=status in ("captured", "refunded"),
            failed=status == "failed",
            # A Razorpay order takes further attempts: a declined card fails only this one.
            retryable=status == "failed",
            payment_ref=str(notes.get("kassa_payment_id") or ""),
            provider_ref=str(entity.get("order_id") or ""),
            failure_reason=str(entity.get("error_description") or entity.get("error_code") or ""),
            raw={"razorpay_payment": payment_id, "status": status, "method": entity.get("method") or "",
                 "currency": entity.get("currency") or ""},
        )

    def fetch_payment(self, payment_id: str) -> dict:
        return self._call("GET", f"/v1/payments/{payment_id}")

    def capture(self, observation: Observation) -> Observation | None:
        currency = str(observation.raw.get("currency") or "")
        return self.observation_from_entity(self._capture(observation.external_tx_id, observation.amount, currency))

    def _capture(self, payment_id: str, amount: int, currency: str) -> dict:
        # Capturing twice answers 400 "already captured": the fetch below tells the truth.
        try:
            return self._call("POST", f"/v1/payments/{payment_id}/capture",
                              json={"amount": amount, "currency": currency})
        except ProviderRejected:
            return self.fetch_payment(payment_id)

    def poll(self, payments) -> list[Observation]:
        observations = []
        for payment in payments:
            if not payment.provider_ref:
                continue
            attempts = self._call("GET", f"/v1/orders/{payment.provider_ref}/payments")
            for entity in attempts.get("items", []):
                if entity.get("status") == "authorized":
                    entity = self._capture(entity["id"], gateway_amount(entity.get("amount") or 0),
                                          entity.get("currency", ""))
                if obs := self.observation_from_entity(entity):
                    observations.append(obs)
        return observations

    def verify(self, payment, reference: str) -> list[Observation]:
        """`reference` is "<razorpay_payment_id>:<razorpay_signature>" from the checkout handler.

        The signature is checked against the order id WE stored (payment.provider_ref),
        never one the browser posted; then the payment is fetched (and captured).
        """
        parts = [p for p in _REFERENCE_SPLIT.split((reference or "").strip()) if p]
        if len(parts) != 2:
            raise VerificationFailed("bad_reference", "expected razorpay_payment_id and signature",
                                     provider=self.code)
        payment_id, signature = parts
        secret = settings.RAZORPAY_KEY_SECRET
        if not razorpay_payment_signature_valid(payment.provider_ref, payment_id, signature, secret):
            raise SignatureInvalid("razorpay handler signature mismatch", provider=self.code,
                                   data={"payment": str(payment.pk)})
        entity = self.fetch_payment(payment_id)
        if entity.get("order_id") != payment.provider_ref:
            raise VerificationFailed("wrong_order", provider=self.code)
        if entity.get("status") == "authorized":
            entity = self._capture(payment_id, gateway_amount(entity.get("amount") or 0), entity.get("currency", ""))
        obs = self.observation_from_entity(entity)
        return [obs] if obs else []

    # --- webhooks ----------------------------------------------------------------------

    SIGNATURE_HEADER = "X-Razorpay-Signature"
    EVENT_ID_HEADER = "X-Razorpay-Event-Id"

    def webhook_signature_valid(self, body: bytes, headers: Mapping[str, str]) -> bool:
        return hmac_matches(settings.RAZORPAY_WEBHOOK_SECRET, body, header_value(headers, self.SIGNATURE_HEADER))

    def webhook_event_id(self, body: bytes, headers: Mapping[str, str]) -> str:
        return (header_value(headers, self.EVENT_ID_HEADER) or body_digest(body))[:128]

    def read_event(self, body: bytes, headers: Mapping[str, str]) -> GatewayEvent:
        """Read an already-verified body (ValueError when it is not a JSON object)."""
        data = json_object(body)
        event_type = str(data.get("event") or "")
        payload = data.get("payload") if isinstance(data.get("payload"), dict) else {}
        event_id = self.webhook_event_id(body, headers)

        def entity(name: str) -> dict:
            wrapper = payload.get(name)
            return wrapper.get("entity", {}) if isinstance(wrapper, dict) else {}

        observations, refund, settlement = [], None, None
        if event_type in PAYMENT_EVENTS and (obs := self.observation_from_entity(entity("payment"))):
            observations.append(obs)
        elif event_type in ("refund.processed", "refund.failed"):
            item = entity("refund")
            notes = item.get("notes") if isinstance(item.get("notes"), dict) else {}
            refund = RefundUpdate(provider_refund_id=str(item.get("id") or ""),
                                  status="succeeded" if event_type == "refund.processed" else "failed",
                                  amount=gateway_amount(item.get("amount") or 0),
                                  kassa_refund_id=str(notes.get("kassa_refund_id") or ""),
                                  failure_reason=str(item.get("error_description") or "refund failed")[:300])
        elif event_type in ("transfer.processed", "transfer.failed", "transfer.reversed"):
            item = entity("transfer")
            notes = item.get("notes") if isinstance(item.get("notes"), dict) else {}
            status = {"transfer.processed": "paid", "transfer.failed": "failed"}.get(event_type, "reversed")
            settlement = SettlementUpdate(provider_ref=str(item.get("id") or ""), status=status,
                                          kassa_settlement_id=str(notes.get("kassa_settlement_id") or ""),
                                          failure_reason=str(item.get("error", {}).get("description", "")
                                                             if isinstance(item.get("error"), dict) else "")[:300])
        return GatewayEvent(provider=self.code, event_id=event_id[:128], type=event_type,
                            observations=observations, refund=refund, settlement=settlement,
                            raw={"event": event_type})

    # --- refunds and Route -------------------------------------------------------------

    def refund(self, payment, amount_minor: int, *, idempotency_key: str) -> RefundResult:
        """`idempotency_key` is Kassa's refund id: a resend after a timeout refunds once."""
        if not payment.tx_id:
            raise ProviderRejected("razorpay refund: payment has no razorpay payment id", provider=self.code)
        if not idempotency_key:
            raise ValueError("a refund needs Kassa's refund id as its idempotency key")
        body = {"amount": amount_minor, "notes": {"kassa_payment_id": str(payment.pk),
                                                  "kassa_refund_id": idempotency_key}}
        answer = self._call("POST", f"/v1/payments/{payment.tx_id}/refund", json=body,
                            headers={"X-Refund-Idempotency": idempotency_key})
        return self._refund_result(answer)

    def refund_lookup(self, payment, *, refund_id: str, provider_refund_id: str = "") -> RefundResult | None:
        """GET /v1/payments/<id>/refunds, matched by Razorpay's id or our kassa_refund_id note."""
        if not payment.tx_id:
            return None
        for item in self._call("GET", f"/v1/payments/{payment.tx_id}/refunds").get("items") or []:
            notes = item.get("notes") if isinstance(item.get("notes"), dict) else {}
            if (provider_refund_id and item.get("id") == provider_refund_id) or \
                    notes.get("kassa_refund_id") == refund_id:
                return self._refund_result(item)
        return None

    def _refund_result(self, answer: Mapping[str, Any]) -> RefundResult:
        status = {"processed": "succeeded", "failed": "failed"}.get(answer.get("status"), "pending")
        return RefundResult(provider_refund_id=str(answer.get("id") or ""), status=status, raw=answer,
                            failure_reason="" if status != "failed" else "Razorpay could not process the refund.")

    def transfer_create(self, *, razorpay_payment_id: str, account: str, amount: int, currency: str,
                        settlement_id: str) -> dict:
        """Route transfer of `amount` from a captured payment to a linked account."""
        body = {"transfers": [{"account": account, "amount": amount, "currency": currency,
                               "notes": {"kassa_settlement_id": settlement_id}, "on_hold": 0}]}
        answer = self._call("POST", f"/v1/payments/{razorpay_payment_id}/transfers", json=body, retry=False,
                            headers={"X-Transfer-Idempotency": f"kassa-settlement-{settlement_id}"})
        items = answer.get("items") or []
        if not items:
            raise ProviderUnavailable("razorpay transfer answer had no items", provider=self.code)
        return items[0]

    def transfers_of_payment(self, razorpay_payment_id: str) -> list[dict]:
        return self._call("GET", f"/v1/payments/{razorpay_payment_id}/transfers").get("items", [])

    def transfer_reverse(self, *, transfer_id: str, amount: int, settlement_id: str) -> dict:
        """Keyed by our reversal's settlement id, so a resend after a timeout reverses once."""
        return self._call("POST", f"/v1/transfers/{transfer_id}/reversals",
                          json={"amount": amount, "notes": {"kassa_settlement_id": settlement_id}},
                          headers={"X-Transfer-Idempotency": f"kassa-settlement-{settlement_id}"})

"""Pay a payment through the sandbox process over HTTP, the way a shopper's wallet would
(sandbox mode only). The sandbox is another process: Kassa reaches it only at the provider
URLs it already uses (NANO_RPC_URL, RAZORPAY_API_URL, COINPAY_API_URL), never by import.

- nano: the sandbox node's test-only ``send`` from its faucet to the payment's address, by
  default the exact raw amount due; with auto_receive the seller's "wallet" receives it at
  once (the monitor then finds it through history).
- razorpay / coinpay: the gateway twin's ``/_sandbox/pay``, which sends Kassa the correctly
  signed webhooks (Razorpay: payment.authorized → payment.captured → order.paid; CoinPay:
  transaction.completed).
- a Nano refund: simulate_refund_send sends it from the seller's address (the seller's wallet).

Nothing here changes our database: the monitor, webhooks or verify see the money.
"""
from __future__ import annotations

import requests
from django.conf import settings

from payments.providers.errors import ProviderNotConfigured, ProviderRejected, ProviderUnavailable
from payments.providers.nano import due_raw
from payments.providers.nano_rpc import NanoRpcClient


def simulate_payment(payment, *, amount_raw: int | None = None, late: bool = False,
                     auto_receive: bool | None = None) -> dict:
    _require_sandbox_mode()
    if payment.method == "nano":
        return _nano_send(payment, amount_raw=amount_raw, late=late, auto_receive=auto_receive)
    return simulate_gateway_payment(payment, fail=False, late=late)


def simulate_gateway_payment(payment, *, fail: bool = False, late: bool = False) -> dict:
    """Pay (or fail) a Razorpay/CoinPay payment in the sandbox. Returns what the sandbox did.
    The sandbox pays whatever it is asked; `late` documents intent (paying a payment we
    already expired, which Kassa must flag paid_late rather than drop)."""
    if not payment.provider_ref:
        raise ProviderRejected("this payment has no gateway reference yet (start it first)")
    if payment.method == "razorpay":
        answer = _post(f"{settings.RAZORPAY_API_URL}/_sandbox/pay", {"order_id": payment.provider_ref, "fail": fail})
        return {"method": "razorpay", "gateway_payment": answer["payment"]["id"],
                "status": answer["payment"]["status"], "late": late, "handler": answer["handler"]}
    if payment.method == "coinpay":
        answer = _post(f"{settings.COINPAY_API_URL}/_sandbox/pay",
                       {"transactionId": payment.provider_ref, "fail": fail})
        return {"method": "coinpay", "gateway_payment": answer["transactionId"], "status": answer["status"],
                "late": late}
    raise ValueError(f"simulate_gateway_payment handles razorpay and coinpay, not {payment.method}")


def simulate_refund_send(refund) -> dict:
    """The seller's wallet sends an awaiting Nano refund: from the seller's address to the
    shopper's account, exactly the refund's raw amount (the sandbox node funds the seller's
    account from its faucet if needed). Kassa learns of it from the node, like a real send."""
    _require_sandbox_mode()
    if refund.status != "awaiting_seller" or not refund.send_to:
        raise ProviderRejected(f"refund {refund.pk} is not a Nano refund waiting for the seller", provider="nano")
    # No retries: a retried send after a timeout could send twice.
    answer = NanoRpcClient(settings.NANO_RPC_URL, retries=0).call(
        "send", source=refund.send_from, destination=refund.send_to, amount=refund.amount_raw, confirmed=True,
    )
    return {"method": "nano", "refund": str(refund.pk), "block": answer["block"], "amount_raw": refund.amount_raw}


def _require_sandbox_mode() -> None:
    if not settings.SANDBOX_MODE:
        raise ProviderNotConfigured("sandbox payments are off (SANDBOX_MODE=false)")


def _nano_send(payment, *, amount_raw: int | None, late: bool, auto_receive: bool | None) -> dict:
    if not payment.pay_to:
        raise ProviderRejected("this payment has no Nano address yet", provider="nano")
    amount = due_raw(payment) if amount_raw is None else amount_raw
    if amount <= 0:
        raise ProviderRejected("the amount must be at least 1 raw", provider="nano")
    if auto_receive is None:
        auto_receive = settings.NANO_SANDBOX_AUTO_RECEIVE
    # No retries: a retried send after a timeout could pay twice (the client refuses anyway).
    answer = NanoRpcClient(settings.NANO_RPC_URL, retries=0).call(
        "send", source="faucet", destination=payment.pay_to, amount=str(amount),
        auto_receive=auto_receive, confirmed=True,
    )
    return {"method": "nano", "block": answer["block"], "receive_block": answer.get("receive_block", ""),
            "amount_raw": str(amount), "late": late}


def _post(url: str, body: dict) -> dict:
    try:
        response = requests.post(url, json=body, timeout=10)
    except requests.RequestException as exc:
        raise ProviderUnavailable(f"sandbox not reachable at {url}: {exc.__class__.__name__}") from exc
    if response.status_code >= 400:
        raise ProviderRejected(f"sandbox refused: HTTP {response.status_code} {response.text[:200]}",
                               status=response.status_code)
    return response.json()

"""Pay a payment through the sandbox, the way a shopper would (sandbox mode only).

- nano: the sandbox node's test-only ``send`` from its faucet to the payment's
  address, by default the exact raw amount due; with auto_receive the seller's
  "wallet" receives it at once (the monitor then finds it through history).
- razorpay / coinpay: the gateway engineer's simulate_gateway_payment.
- a Nano refund: simulate_refund_send sends it from the seller's address (the seller's wallet).

Nothing here changes our database: the monitor, webhooks or verify see the money.
"""
from __future__ import annotations

from django.conf import settings

from payments.providers.errors import ProviderNotConfigured, ProviderRejected
from payments.providers.nano import due_raw
from payments.providers.nano_rpc import NanoRpcClient


def simulate_payment(payment, *, amount_raw: int | None = None, late: bool = False,
                     auto_receive: bool | None = None) -> dict:
    if not settings.SANDBOX_MODE:
        raise ProviderNotConfigured("sandbox payments are off (SANDBOX_MODE=false)")
    if payment.method == "nano":
        return _nano_send(payment, amount_raw=amount_raw, late=late, auto_receive=auto_receive)
    from payments.sandbox.simulate_gateways import simulate_gateway_payment  # another engineer's module

    return simulate_gateway_payment(payment, fail=False, late=late)


def _nano_send(payment, *, amount_raw: int | None, late: bool, auto_receive: bool | None) -> dict:
    if not payment.pay_to:
        raise ProviderRejected("this payment has no Nano address yet", provider="nano")
    amount = due_raw(payment) if amount_raw is None else amount_raw
    if amount <= 0:
        raise ProviderRejected("the amount must be at least 1 raw", provider="nano")
    if auto_receive is None:
        auto_receive = getattr(settings, "NANO_SANDBOX_AUTO_RECEIVE", False)
    # No retries: a retried send after a timeout could pay twice (the client refuses anyway).
    answer = NanoRpcClient(settings.NANO_RPC_URL, retries=0).call(
        "send", source="faucet", destination=payment.pay_to, amount=str(amount),
        auto_receive=auto_receive, confirmed=True,
    )
    return {"method": "nano", "block": answer["block"], "receive_block": answer.get("receive_block", ""),
            "amount_raw": str(amount), "late": late}


def simulate_refund_send(refund) -> dict:
    """The seller's wallet sends an awaiting Nano refund: from the seller's address to the
    shopper's account, exactly the refund's raw amount (the sandbox node funds the seller's
    account from its faucet if needed). Kassa learns of it from the node, like a real send."""
    if not settings.SANDBOX_MODE:
        raise ProviderNotConfigured("sandbox payments are off (SANDBOX_MODE=false)")
    if refund.status != "awaiting_seller" or not refund.send_to:
        raise ProviderRejected(f"refund {refund.pk} is not a Nano refund waiting for the seller", provider="nano")
    # No retries: a retried send after a timeout could send twice.
    answer = NanoRpcClient(settings.NANO_RPC_URL, retries=0).call(
        "send", source=refund.send_from, destination=refund.send_to, amount=refund.amount_raw, confirmed=True,
    )
    return {"method": "nano", "refund": str(refund.pk), "block": answer["block"], "amount_raw": refund.amount_raw}

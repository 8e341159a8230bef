"""`sandbox pay` for the gateways: ask the sandbox process to pay a payment the way a
shopper would, so it sends Kassa the correctly signed webhooks (Razorpay:
payment.authorized → payment.captured → order.paid; CoinPay: transaction.completed).

The sandbox pays whatever it is asked; `late` documents intent (paying a payment we
already expired, which Kassa must flag paid_late rather than drop).
"""
from __future__ import annotations

import requests
from django.conf import settings

from payments.providers.errors import ProviderRejected, ProviderUnavailable


def _post(url: str, body: dict) -> dict:
    try:
        response = requests.post(url, json=body, timeout=10)
    except requests.RequestException as exc:
        raise ProviderUnavailable(f"sandbox not reachable at {url}: {exc.__class__.__name__}") from exc
    if response.status_code >= 400:
        raise ProviderRejected(f"sandbox refused: HTTP {response.status_code} {response.text[:200]}",
                               status=response.status_code)
    return response.json()


def simulate_gateway_payment(payment, *, fail: bool = False, late: bool = False) -> dict:
    """Pay (or fail) a Razorpay/CoinPay payment in the sandbox. Returns what the sandbox did."""
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

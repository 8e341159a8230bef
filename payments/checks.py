"""A check of one payment with its provider on someone's word ("I've paid"): the shopper page's
queued check, the API's verify, the sandbox's simulate.

It sits above payments.services and the monitors: a Nano payment checked without a block hash
runs the monitor's tick for its address (monitor_nano.check_addresses: the stored cursor and
baseline, never a walk back through the address's history), which applies what it finds through
observation_apply; everything else is payment_verify.
"""
from __future__ import annotations

from payments.models import Payment
from payments.monitor_nano import check_addresses
from payments.providers.nano import CODE as NANO
from payments.services import payment_verify


def payment_check(*, payment: Payment, reference: str = "") -> Payment:
    """Check `payment` with its provider and return it as it is now.

    Raises ProviderError (VerificationFailed, ProviderUnavailable, …) for the caller to show.
    """
    if payment.method == NANO and not reference:
        check_addresses([payment.pay_to])
        return Payment.objects.select_related("order", "seller").get(pk=payment.pk)
    return payment_verify(payment=payment, reference=reference)

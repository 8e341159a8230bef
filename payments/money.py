"""Pure money arithmetic for payments: fee splits and wire units. Integers only."""
from __future__ import annotations

from dataclasses import dataclass

# XNO's minor unit is 1 µXNO = 10^24 raw; the wire (node RPC) speaks raw.
RAW_PER_MICRO_XNO = 10**24


@dataclass(frozen=True)
class Split:
    gross: int
    fee: int
    net: int


def fee_split(gross: int, fee_bps: int) -> Split:
    """gross == fee + net exactly. The fee rounds half up to the minor unit and the
    seller gets the rest, so no remainder is ever lost. Works for negative (refund) gross."""
    if not 0 <= fee_bps <= 10_000:
        raise ValueError(f"fee_bps must be within 0..10000, got {fee_bps}")
    sign = -1 if gross < 0 else 1
    fee = sign * ((abs(gross) * fee_bps + 5_000) // 10_000)
    return Split(gross=gross, fee=fee, net=gross - fee)


def wire_per_minor(pay_currency: str) -> int:
    """How many wire units (what providers report) make one minor unit we store."""
    return RAW_PER_MICRO_XNO if pay_currency == "XNO" else 1


def due_in_wire_units(amount_due: int, pay_currency: str) -> int:
    return amount_due * wire_per_minor(pay_currency)

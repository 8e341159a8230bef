"""The Nano provider's plain values and pure helpers: what the monitor hands the scan and gets
back, a refund's anchor and the sends seen for it, and the amount, URI and QR arithmetic.
No RPC and no ORM; payments.providers.nano re-exports every name here."""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import segno

from core.nano_codec import RAW_PER_MICRO
from payments.providers.base import Observation


@dataclass(frozen=True)
class WatchedAccount:
    """An address with reserved payments, as the monitor knows it."""

    address: str
    cursor: str = ""   # blocks at and below it are known ("" = none read yet)
    since: int = 0     # unix time of its oldest reserved payment
    # Receivable sends (hashes) that predate the watch. None: no baseline yet, so this read takes one.
    # Payments start without any RPC, so the baseline is taken at the first good read after the start
    # (possibly much later, if the node was down). At that read a block is pre-existing when the node
    # stored it before `since` (or at "0", before V18): money sent after the start still completes its
    # payment, and the timestamp decides only for this one window. A re-sync inside it is not detected.
    baseline: frozenset[str] | None = None


@dataclass(frozen=True)
class RefundAnchor:
    """A Nano refund's target: send_from → send_to, in a block above after_height."""

    send_from: str
    send_to: str
    after_height: int


@dataclass(frozen=True)
class SendSeen:
    """A confirmed send block on a seller's chain."""

    hash: str
    send_from: str
    send_to: str
    amount_raw: int
    height: int


@dataclass
class ScanResult:
    observations: list[Observation] = field(default_factory=list)
    cursors: dict[str, str] = field(default_factory=dict)   # address → frontier to store (moved only)
    history_reads: list[str] = field(default_factory=list)  # addresses whose history was read
    baselines: dict[str, list[str]] = field(default_factory=dict)  # address → pre-existing sends (first reads)
    preexisting: int = 0    # blocks left out because they predate the watch
    rpc_calls: int = 0


def chunked(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def due_raw(payment) -> int:
    return payment.amount_due * RAW_PER_MICRO


def payment_uri(address: str, raw: int) -> str:
    return f"nano:{address}?amount={raw}"


def refund_raw(payment, amount_minor: int) -> int:
    """The raw a refund of `amount_minor` (order currency) sends back.

    The whole payment returns exactly what arrived (the unique suffix included); part of it
    is converted at the rate locked when the payment started, rounded up to 1 µXNO.
    """
    if amount_minor >= payment.amount and payment.amount_received_int > 0:
        return payment.amount_received_int
    if payment.currency == "XNO":
        return amount_minor * RAW_PER_MICRO
    return math.ceil(Fraction(payment.rate) * amount_minor) * RAW_PER_MICRO


def payment_qr_svg(uri: str, title: str = "Scan to pay with a Nano wallet") -> str:
    """Inline SVG of the wallet URI; the pay page embeds it (it opens the wallet when tapped).

    micro=False: wallets read only full QR codes; omitsize leaves a viewBox so CSS can scale it.
    Rendered by the pay page, not at start(): API clients never need it.
    """
    return segno.make(uri, error="m", micro=False).svg_inline(
        scale=4, border=2, omitsize=True, svgclass="qr-code", lineclass=None, title=title)

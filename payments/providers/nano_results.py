"""What a Nano node's RPC answers, parsed: dataclasses with amounts as exact ints and addresses
normalized. No Django and no I/O; payments.providers.nano_rpc's client returns these."""
from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.nano_codec import InvalidAddress, normalize_address, parse_raw


def _int(value: Any, default: int = 0) -> int:
    """Node numbers are decimal strings; absent or empty means ``default``."""
    if value in (None, ""):
        return default
    return parse_raw(value)


def _text(value: Any) -> str:
    """A string field (a hash, a link, a subtype); absent is ""; anything else is a malformed answer."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"expected a string, not {type(value).__name__}")
    return value


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")


@functools.lru_cache(maxsize=65_536)
def normalized_account(account: str) -> str:
    # Cached: a batch answer repeats the same few accounts (sources) thousands of times.
    try:
        return normalize_address(account)
    except InvalidAddress:
        return account  # keep what the node said; callers match on normalized input


@dataclass(frozen=True)
class AccountInfo:
    account: str
    frontier: str
    open_block: str
    balance: int
    block_count: int
    confirmation_height: int
    modified_timestamp: int
    receivable: int | None = None          # when requested
    confirmed_balance: int | None = None   # when include_confirmed
    confirmation_frontier: str = ""        # the highest confirmed block ("" when the node did not say)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def parse(cls, account: str, data: Mapping[str, Any]) -> AccountInfo:
        receivable = data.get("receivable", data.get("pending"))
        confirmed = data.get("confirmed_balance")
        # With include_confirmed the node prints confirmed_height/confirmed_frontier instead of
        # confirmation_height/confirmation_height_frontier (one pair, never both).
        height = data.get("confirmation_height", data.get("confirmed_height"))
        frontier = data.get("confirmation_height_frontier", data.get("confirmed_frontier"))
        return cls(
            account=account,
            frontier=data["frontier"],
            open_block=data.get("open_block", ""),
            balance=_int(data["balance"]),
            block_count=_int(data.get("block_count")),
            confirmation_height=_int(height),
            modified_timestamp=_int(data.get("modified_timestamp")),
            receivable=None if receivable is None else _int(receivable),
            confirmed_balance=None if confirmed is None else _int(confirmed),
            confirmation_frontier=frontier or "",
            raw=data,
        )


@dataclass(frozen=True)
class HistoryEntry:
    """One account_history entry. ``kind`` is send/receive/change/epoch whichever form (raw or
    not) was asked for, a legacy open counting as a receive (as the node's non-raw form says);
    ``account`` is the counterparty. ``link`` is, for a receive, the send it received: a state
    block's `link`, a legacy receive or open block's `source`."""

    hash: str
    kind: str
    account: str
    amount: int
    height: int
    local_timestamp: int
    confirmed: bool
    link: str = ""          # raw only
    previous: str = ""      # raw only
    balance: int | None = None  # raw only
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> HistoryEntry:
        balance = data.get("balance")
        kind = _text(data.get("subtype") or data.get("type"))  # raw: type is "state", subtype says what
        if not _text(data["hash"]):
            raise ValueError("a history entry without a hash")
        return cls(
            hash=data["hash"],
            kind="receive" if kind == "open" else kind,
            account=normalized_account(data.get("account", "")),
            amount=_int(data.get("amount")),
            height=_int(data.get("height")),
            local_timestamp=_int(data.get("local_timestamp")),
            # Nodes before V23 do not report it; treat absence as unconfirmed.
            confirmed=_truthy(data.get("confirmed", False)),
            link=_text(data.get("link") or data.get("source")),
            previous=_text(data.get("previous")),
            balance=None if balance in (None, "") else _int(balance),
            raw=data,
        )


@dataclass(frozen=True)
class AccountHistory:
    account: str
    entries: list[HistoryEntry]
    previous: str | None = None   # head for the next (older) page, when there is one


@dataclass(frozen=True)
class ReceivableBlock:
    """A send not yet received by ``account``. ``source`` is "" unless source=True."""

    account: str
    hash: str
    amount: int
    source: str = ""


@dataclass(frozen=True)
class BlockInfo:
    hash: str
    block_account: str
    subtype: str
    amount: int
    balance: int
    height: int
    local_timestamp: int
    confirmed: bool
    link: str
    link_as_account: str      # the destination, for a send (state or legacy)
    previous: str
    successor: str
    contents: Mapping[str, Any] = field(default_factory=dict, repr=False)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def parse(cls, block_hash: str, data: Mapping[str, Any]) -> BlockInfo:
        contents = data.get("contents")
        if not isinstance(contents, Mapping):
            contents = {}
        return cls(
            hash=block_hash.upper(),
            block_account=normalized_account(data.get("block_account", "")),
            subtype=data.get("subtype") or contents.get("type", ""),
            amount=_int(data.get("amount")),
            balance=_int(data.get("balance")),
            height=_int(data.get("height")),
            local_timestamp=_int(data.get("local_timestamp")),
            confirmed=_truthy(data.get("confirmed", False)),
            link=contents.get("link", ""),
            # A legacy send block (before state blocks) has no link: its contents name the `destination`.
            link_as_account=normalized_account(contents.get("link_as_account") or contents.get("destination") or ""),
            previous=contents.get("previous", ""),
            successor=data.get("successor", ""),
            contents=contents,
            raw=data,
        )


def parse_receivable(blocks: Any) -> dict[str, list[ReceivableBlock]]:
    """accounts_receivable ``blocks`` in any of the node's three shapes → per account list.

    Shapes: ``""`` (nothing), ``{acct: [hash...]}`` (amount unknown, 0),
    ``{acct: {hash: amount}}`` (threshold), ``{acct: {hash: {amount, source}}}`` (source).
    """
    out: dict[str, list[ReceivableBlock]] = {}
    if not isinstance(blocks, Mapping):
        return out
    for account, items in blocks.items():
        account = normalized_account(account)
        parsed: list[ReceivableBlock] = []
        if isinstance(items, list):
            parsed = [ReceivableBlock(account, h, 0) for h in items]
        elif isinstance(items, Mapping):
            for block_hash, value in items.items():
                if isinstance(value, Mapping):
                    source = normalized_account(value.get("source", ""))
                    parsed.append(ReceivableBlock(account, block_hash, _int(value.get("amount")), source))
                else:
                    parsed.append(ReceivableBlock(account, block_hash, _int(value)))
        if parsed:
            out.setdefault(account, []).extend(parsed)
    return out


def as_list(value: Any) -> list[Any]:
    """The node prints an empty list or map as ``""``."""
    return value if isinstance(value, list) else []

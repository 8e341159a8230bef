"""The sandbox Nano node's parameter parsing, failing with the node's own error texts."""
from __future__ import annotations

import functools
from typing import Any

from core.nano_codec import MAX_RAW, InvalidAddress, normalize_address
from sandbox.nano.blocks import RpcError


def _account(value: Any) -> str:
    if not isinstance(value, str):
        raise RpcError("Bad account number")
    try:
        return _normalized(value)
    except InvalidAddress:
        raise RpcError("Bad account number") from None


@functools.lru_cache(maxsize=65_536)
def _normalized(value: str) -> str:
    # Seeding and batch reads repeat the same addresses many times; decoding is the hot path.
    return normalize_address(value)


def _accounts(req: dict[str, Any]) -> list[str]:
    accounts = req.get("accounts")
    if not isinstance(accounts, list):
        raise RpcError("Missing accounts")
    return [_account(value) for value in accounts]


def _hash(value: Any, error: str = "Bad hash number") -> str:
    """A block hash; block_info's hash_impl says "Invalid block hash" instead."""
    if not isinstance(value, str) or len(value) != 64:
        raise RpcError(error)
    try:
        bytes.fromhex(value)
    except ValueError:
        raise RpcError(error) from None
    return value.upper()


def _flag(req: dict[str, Any], name: str, default: bool = False) -> bool:
    value = req.get(name, default)
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _count(req: dict[str, Any], name: str = "count", *, required: bool = False) -> int | None:
    """None means unlimited (absent, or -1 as many clients send). The node's texts: "Invalid count"
    ("Invalid offset"), and a missing required count fails its JSON read ("Unable to parse JSON")."""
    error = "Invalid offset" if name == "offset" else "Invalid count"
    value = req.get(name)
    if value is None:
        if required:
            raise RpcError("Unable to parse JSON")
        return None
    try:
        number = int(str(value))
    except ValueError:
        raise RpcError(error) from None
    if required and number == 0:
        raise RpcError(error)  # the node's count_impl refuses 0 where count is required
    if number < 0:
        return None
    return number


def _amount(value: Any, error: str = "Bad amount number") -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not text.isascii() or not text.isdigit() or int(text) > MAX_RAW:
        raise RpcError(error)
    return int(text)


def _bool_str(value: bool) -> str:
    return "true" if value else "false"

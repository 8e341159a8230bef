"""Nano addresses and units, with no external library and no floats.

Address = prefix + 52 base32 chars of the 256-bit public key (left-padded with
4 zero bits to 260 bits) + 8 base32 chars of checksum, where the checksum is
blake2b(pubkey, digest_size=5) with its bytes reversed.

Units: 1 XNO = 10^30 raw (the wire unit); Kassa's XNO minor unit is
1 µXNO = 10^24 raw, so due amounts fit a BigInteger exactly.

Shared with the sandbox's Nano node, which may import from the product only this
module and providers/signatures.py: keep it standard library only.
"""
from __future__ import annotations

import hashlib
import re
from decimal import Decimal
from functools import lru_cache

ALPHABET = "13456789abcdefghijkmnopqrstuwxyz"
_VALUE = {char: index for index, char in enumerate(ALPHABET)}
PREFIXES = ("nano_", "xrb_")
DEFAULT_PREFIX = "nano_"
_KEY_CHARS = 52       # 260 bits / 5
_CHECKSUM_CHARS = 8   # 40 bits / 5
_BODY_CHARS = _KEY_CHARS + _CHECKSUM_CHARS

RAW_PER_XNO = 10**30
RAW_PER_MICRO = 10**24
MICRO_PER_XNO = RAW_PER_XNO // RAW_PER_MICRO
XNO_DECIMALS = 30
# The whole supply is 2^128 - 1 raw; balances and amounts are 128-bit on the wire.
MAX_RAW = 2**128 - 1


class InvalidAddress(ValueError):
    """Not a Nano address. The message says why (prefix, length, character, checksum)."""


# --- addresses -----------------------------------------------------------------


def _encode(value: int, chars: int) -> str:
    out = []
    for _ in range(chars):
        out.append(ALPHABET[value & 0x1F])
        value >>= 5
    return "".join(reversed(out))


def _decode(text: str) -> int:
    value = 0
    for char in text:
        value = (value << 5) | _VALUE[char]
    return value


def _checksum(pubkey: bytes) -> bytes:
    return hashlib.blake2b(pubkey, digest_size=5).digest()[::-1]


def _pubkey_bytes(pubkey: str | bytes) -> bytes:
    if isinstance(pubkey, (bytes, bytearray, memoryview)):
        key = bytes(pubkey)
    elif isinstance(pubkey, str):
        try:
            key = bytes.fromhex(pubkey.strip())
        except ValueError:
            raise ValueError("public key must be 64 hex characters") from None
    else:
        raise TypeError(f"public key must be bytes or a hex string, not {type(pubkey).__name__}")
    if len(key) != 32:
        raise ValueError(f"public key must be 32 bytes, got {len(key)}")
    return key


def public_key_to_address(pubkey: str | bytes, prefix: str = DEFAULT_PREFIX) -> str:
    """32-byte public key (bytes or 64 hex chars) → ``nano_…`` address."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown prefix {prefix!r}; use one of {PREFIXES}")
    key = _pubkey_bytes(pubkey)
    body = _encode(int.from_bytes(key, "big"), _KEY_CHARS)
    check = _encode(int.from_bytes(_checksum(key), "big"), _CHECKSUM_CHARS)
    return f"{prefix}{body}{check}"


def _split_prefix(address: str) -> str:
    for prefix in PREFIXES:
        if address.startswith(prefix):
            return address[len(prefix):]
    raise InvalidAddress(f"invalid Nano address: unknown prefix (expected one of {', '.join(PREFIXES)})")


def address_to_public_key(address: str) -> bytes:
    """``nano_…`` / ``xrb_…`` address → 32-byte public key, or raise InvalidAddress."""
    if not isinstance(address, str):
        raise InvalidAddress(f"invalid Nano address: expected a string, not {type(address).__name__}")
    body = _split_prefix(address)
    if len(body) != _BODY_CHARS:
        raise InvalidAddress(
            f"invalid Nano address: wrong length ({len(body)} characters after the prefix, expected {_BODY_CHARS})"
        )
    for char in body:
        if char not in _VALUE:
            raise InvalidAddress(f"invalid Nano address: invalid character {char!r}")
    key_value = _decode(body[:_KEY_CHARS])
    if key_value >> 256:
        # The 4 padding bits must be zero, so the first character is '1' or '3'.
        raise InvalidAddress("invalid Nano address: invalid character in first position (must be '1' or '3')")
    key = key_value.to_bytes(32, "big")
    if _decode(body[_KEY_CHARS:]).to_bytes(5, "big") != _checksum(key):
        raise InvalidAddress("invalid Nano address: bad checksum")
    return key


def is_valid_address(value: object) -> bool:
    try:
        address_to_public_key(value)  # type: ignore[arg-type]
    except InvalidAddress:
        return False
    return True


def normalize_address(value: str) -> str:
    """Canonical form: whitespace stripped, lower case, ``nano_`` prefix. Raises InvalidAddress.

    Lower-casing is safe (the alphabet has no look-alike upper/lower pairs) and
    accepts addresses that went through upper-case QR encoding.
    """
    if not isinstance(value, str):
        raise InvalidAddress(f"invalid Nano address: expected a string, not {type(value).__name__}")
    return _canonical(value.strip().lower())


@lru_cache(maxsize=4096)
def _canonical(address: str) -> str:
    # Every Nano payment start checks the seller's payout address: two checksums each time.
    # Pure, and an invalid address raises (lru_cache keeps no exceptions).
    return public_key_to_address(address_to_public_key(address))


def public_key_hex(address: str) -> str:
    """Address → 64 upper-case hex chars (how the node prints keys and send links)."""
    return address_to_public_key(address).hex().upper()


# --- units -----------------------------------------------------------------------

_XNO_RE = re.compile(r"([0-9]+)(?:\.([0-9]+))?")  # ASCII only: \d also matches other scripts


def parse_raw(value: int | str) -> int:
    """A raw amount as an exact int: accepts ints or digit strings ("1000"), nothing else."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"raw amount must be an int or a digit string, not {type(value).__name__}")
    if isinstance(value, str):
        text = value.strip()
        if not text.isascii() or not text.isdigit():
            raise ValueError(f"raw amount must be a non-negative integer string, got {value!r}")
        value = int(text)
    if value < 0:
        raise ValueError(f"raw amount must not be negative, got {value}")
    if value >= 2**128:  # a Nano amount is a 128-bit integer; the 40-character columns rely on it
        raise ValueError("raw amount must be below 2**128")
    return value


def parse_xno(text: str | int | Decimal) -> int:
    """``"1.5"`` XNO → raw, exactly. Up to 30 decimals; rejects floats, negatives, exponents.

    Accepts an int (whole XNO) or a finite Decimal too, since both are exact.
    """
    if isinstance(text, (bool, float)):
        raise ValueError("XNO amounts must be strings, ints or Decimals, never floats")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"XNO amount must not be negative, got {text}")
        whole, fraction = str(text), ""
    elif isinstance(text, Decimal):
        if not text.is_finite():
            raise ValueError(f"XNO amount must be finite, got {text}")
        return parse_xno(format(text, "f"))
    elif isinstance(text, str):
        match = _XNO_RE.fullmatch(text.strip())
        if not match:
            raise ValueError(f"not an XNO amount: {text!r} (use digits and an optional '.', e.g. 1.25)")
        whole, fraction = match.group(1), match.group(2) or ""
    else:
        raise ValueError(f"XNO amount must be a string, not {type(text).__name__}")
    if len(fraction) > XNO_DECIMALS:
        raise ValueError(f"XNO amounts have at most {XNO_DECIMALS} decimals, got {len(fraction)}")
    raw = int(whole) * RAW_PER_XNO + int(fraction.ljust(XNO_DECIMALS, "0") or "0")
    if raw > MAX_RAW:
        raise ValueError("XNO amount exceeds the total supply")
    return raw


def format_raw(raw: int | str) -> str:
    """Raw → XNO decimal string, exact, trailing zeros trimmed: 10**30 → "1", 1 → "0.000…001"."""
    if isinstance(raw, int) and not isinstance(raw, bool) and raw < 0:
        return "-" + format_raw(-raw)  # signed deltas (refunds) render too
    whole, fraction = divmod(parse_raw(raw), RAW_PER_XNO)
    if not fraction:
        return str(whole)
    return f"{whole}.{str(fraction).rjust(XNO_DECIMALS, '0').rstrip('0')}"


def raw_to_micro(raw: int | str, *, exact: bool = True) -> int:
    """Raw → µXNO. With ``exact`` (default) a remainder is an error; otherwise it floors.

    Due amounts are whole µXNO, so a remainder usually means dust sent by hand.
    """
    micro, remainder = divmod(parse_raw(raw), RAW_PER_MICRO)
    if remainder and exact:
        raise ValueError(f"{raw} raw is not a whole number of µXNO")
    return micro


def micro_to_raw(micro: int | str) -> int:
    """µXNO → raw (exact)."""
    return parse_raw(micro) * RAW_PER_MICRO

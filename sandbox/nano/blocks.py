"""The sandbox Nano node's blocks: the state-block format and hash, the well-known accounts, and
RpcError (the node's error answer, raised by the ledger and every action)."""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Any

from core.nano_codec import address_to_public_key, public_key_to_address

ZERO_HASH = "0" * 64
FAUCET_KEY = hashlib.blake2b(b"kassa sandbox faucet", digest_size=32).digest()
FAUCET = public_key_to_address(FAUCET_KEY)
REPRESENTATIVE = FAUCET
# Real state-block hashing: blake2b-256 over a 32-byte preamble (value 6) and the fields.
_STATE_PREAMBLE = (6).to_bytes(32, "big")


class RpcError(Exception):
    """Rendered as ``{"error": message}`` with HTTP 200, as the real node does."""


@functools.lru_cache(maxsize=65_536)
def _key_to_address(key_hex: str) -> str:
    return public_key_to_address(key_hex)


@functools.lru_cache(maxsize=65_536)
def _address_key(address: str) -> bytes:
    return address_to_public_key(address)


@dataclass(slots=True)
class Block:
    hash: str
    account: str
    previous: str
    representative: str
    balance: int
    link: str
    subtype: str          # send | receive
    amount: int
    height: int
    local_timestamp: int
    confirmed: bool

    @property
    def link_as_account(self) -> str:
        return _key_to_address(self.link)

    def contents(self) -> dict[str, str]:
        key = bytes.fromhex(self.hash)
        return {
            "type": "state",
            "account": self.account,
            "previous": self.previous,
            "representative": self.representative,
            "balance": str(self.balance),
            "link": self.link,
            "link_as_account": self.link_as_account,
            # Not real Ed25519 signatures or PoW: deterministic filler of the right size.
            "signature": hashlib.blake2b(key, digest_size=64, person=b"kassa-sig").hexdigest().upper(),
            "work": hashlib.blake2b(key, digest_size=8, person=b"kassa-work").hexdigest(),
        }

    def to_record(self) -> dict[str, Any]:
        return {
            "t": "block",
            "hash": self.hash,
            "account": self.account,
            "previous": self.previous,
            "representative": self.representative,
            "balance": str(self.balance),
            "link": self.link,
            "subtype": self.subtype,
            "amount": str(self.amount),
            "height": self.height,
            "ts": self.local_timestamp,
            "confirmed": self.confirmed,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Block:
        return cls(
            hash=rec["hash"],
            account=rec["account"],
            previous=rec["previous"],
            representative=rec["representative"],
            balance=int(rec["balance"]),
            link=rec["link"],
            subtype=rec["subtype"],
            amount=int(rec["amount"]),
            height=int(rec["height"]),
            local_timestamp=int(rec["ts"]),
            confirmed=bool(rec["confirmed"]),
        )


def state_block_hash(account: str, previous: str, representative: str, balance: int, link: str) -> str:
    digest = hashlib.blake2b(digest_size=32)
    digest.update(_STATE_PREAMBLE)
    digest.update(_address_key(account))
    digest.update(bytes.fromhex(previous))
    digest.update(_address_key(representative))
    digest.update(balance.to_bytes(16, "big"))
    digest.update(bytes.fromhex(link))
    return digest.hexdigest().upper()


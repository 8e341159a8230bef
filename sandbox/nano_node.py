"""A sandbox Nano node that speaks the real node's JSON-RPC at ``POST /nano``.

It keeps a small block-lattice: state blocks with real-format hashes
(blake2b-256 of the state-block fields), a faucet account holding the whole
supply, receivable (pending) sends, confirmation flags, and the node's response
shapes and quirks (every number is a string, ``"blocks": ""`` when empty,
``{"error": "..."}`` with HTTP 200).

Read actions (shapes as the real node, V24+):
    account_info, account_balance, account_history, accounts_receivable
    (accounts_pending as the node answers it), accounts_frontiers, block_info, blocks_info,
    block_count, receivable_exists, version

Test-only actions (not on a real node):
    send         {"source": addr|"faucet", "destination", "amount": raw, "auto_receive", "confirmed"}
    bulk_send    {"sends": [{"destination", "amount", "source"?}...], "auto_receive", "confirmed"}
    receive_all  {"account"}
    confirm      {"hash"}  (or no hash: confirm everything)
    reset        {}
    sandbox_fault {"mode": "none"|"error500"|"timeout"|"garbage", "count"?: n, "delay"?: seconds}
    sandbox_info {}
    sandbox_version {"node_vendor": "Nano V23.3"}  answer `version` as that node, and refuse the
                 actions it did not have yet (accounts_receivable before V24); "" restores the sandbox

A source account without enough funds is topped up from the faucet first (a
faucet send plus a receive on the source), so shopper chains look real.

The ledger lives in memory under one lock and is persisted as an append-only
JSON-lines log (``<state_dir>/nano.jsonl``): each mutating action appends its
new blocks, reads never write, and a restart replays the log.

With the ``nano_ws`` option (``sandbox serve`` sets it) the node also pushes
confirmations over its websocket, as a real node does (nano_ws.py).
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from core.nano_codec import (
    MAX_RAW,
    InvalidAddress,
    address_to_public_key,
    normalize_address,
    public_key_to_address,
)
from sandbox.nano_ws import ConfirmationFeed
from sandbox.server import Request, Response, Route, SandboxContext

logger = logging.getLogger("sandbox.nano")

RPC_PATH = "/nano"
LEDGER_FILE = "nano.jsonl"
LOG_FORMAT = {"format": "kassa-sandbox-nano", "version": 1}
ZERO_HASH = "0" * 64
ELECTION_SECONDS = 300  # an unconfirmed block younger than this still has an election running
WS_DUPLICATE_EVERY = 5  # with the websocket on, every 5th confirmation is reported twice (sandbox_ws)
SANDBOX_VENDOR = "Kassa sandbox Nano node"  # not "Nano Vxx": clients take it as the current protocol
FAUCET_KEY = hashlib.blake2b(b"kassa sandbox faucet", digest_size=32).digest()
FAUCET = public_key_to_address(FAUCET_KEY)
REPRESENTATIVE = FAUCET
# Real state-block hashing: blake2b-256 over a 32-byte preamble (value 6) and the fields.
_STATE_PREAMBLE = (6).to_bytes(32, "big")


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


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


# --- fault injection -----------------------------------------------------------------

FAULT_MODES = ("none", "error500", "timeout", "garbage")


class Fault:
    """Makes the next RPC calls fail, so tests can see retries and ProviderUnavailable."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.mode = "none"
        self.remaining: int | None = None   # None: until switched off
        self.delay = 10.0                   # seconds a "timeout" call stalls

    def set(self, mode: str, count: int | None = None, delay: float | None = None) -> None:
        with self._lock:
            self.mode, self.remaining = mode, count
            if delay is not None:
                self.delay = delay

    def take(self) -> tuple[str, float]:
        """The fault to apply to this call, counting it down."""
        with self._lock:
            mode = self.mode
            if mode != "none" and self.remaining is not None:
                self.remaining -= 1
                if self.remaining <= 0:
                    self.mode, self.remaining = "none", None
            return mode, self.delay

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {"mode": self.mode, "count": self.remaining, "delay": self.delay}


# --- the ledger ------------------------------------------------------------------------


class NanoLedger:
    """In-memory lattice plus an append-only log. Hold ``lock`` while reading fields."""

    def __init__(self, path: Path | None = None) -> None:
        self.lock = threading.RLock()
        self.path = path
        self.fault = Fault()
        # Called with (block, confirmation_type) for the blocks each change confirms (the websocket
        # feed, nano_ws.py); not on replay.
        self.on_confirmed: list[Callable[[list[tuple[Block, str]]], None]] = []
        # Every n-th confirmation is reported twice, as the node may (0: never); sandbox_ws sets it.
        self.duplicate_every = 0
        self._announced = 0
        self._file: IO[str] | None = None
        self._clear()
        with self.lock:
            if path is not None and path.exists():
                self._replay(path)
            if path is not None:
                fresh = not path.exists() or path.stat().st_size == 0
                torn = not fresh and not _ends_with_newline(path)
                self._file = path.open("a", encoding="utf-8")
                if fresh:
                    self._write([LOG_FORMAT])
                elif torn:
                    self._file.write("\n")  # end a line torn by a crash, or the next record joins it
            if FAUCET not in self.chains:
                self._write([self._genesis().to_record()])

    # indexes ---------------------------------------------------------------------
    def _clear(self) -> None:
        self.blocks: dict[str, Block] = {}
        self.chains: dict[str, list[str]] = {}                # account -> hashes by height
        self.receivable: dict[str, dict[str, None]] = {}      # destination -> send hashes (ordered set)
        self.received_by: dict[str, str] = {}                 # send hash -> receive hash
        self.node_vendor = SANDBOX_VENDOR                     # sandbox_version: the node version emulated

    def _apply(self, block: Block) -> None:
        self.blocks[block.hash] = block
        self.chains.setdefault(block.account, []).append(block.hash)
        if block.subtype == "send":
            self.receivable.setdefault(block.link_as_account, {})[block.hash] = None
        elif block.link in self.blocks:
            pending = self.receivable.get(block.account)
            if pending is not None:
                pending.pop(block.link, None)
                if not pending:
                    del self.receivable[block.account]
            self.received_by[block.link] = block.hash

    # persistence -------------------------------------------------------------------
    def _write(self, records: Iterable[dict[str, Any]]) -> None:
        if self._file is None:
            return
        self._file.write("".join(json.dumps(rec, separators=(",", ":")) + "\n" for rec in records))
        self._file.flush()  # to the OS on every mutating action: a killed process keeps its blocks

    def _commit(self, blocks: list[Block]) -> None:
        """Persist new blocks and announce the confirmed ones (even after an error part-way:
        the blocks made before it exist)."""
        self._write(block.to_record() for block in blocks)
        self._announce([block for block in blocks if block.confirmed])

    def _announce(self, blocks: list[Block], types: dict[str, str] | None = None) -> None:
        """Tell the listeners; a block confirmed by its own election is "active_quorum", others say how."""
        out: list[tuple[Block, str]] = []
        for block in blocks:
            item = (block, (types or {}).get(block.hash, "active_quorum"))
            out.append(item)
            self._announced += 1
            if self.duplicate_every and self._announced % self.duplicate_every == 0:
                out.append(item)
        if out:
            for listener in self.on_confirmed:
                listener(out)

    def _replay(self, path: Path) -> None:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                try:
                    rec = json.loads(line)
                except ValueError:
                    logger.warning("nano sandbox: ignoring unreadable line %s of %s", number, path)
                    continue
                if rec.get("t") == "block":
                    self._apply(Block.from_record(rec))
                elif rec.get("t") == "confirm":
                    for block_hash in rec["hashes"]:
                        if block_hash in self.blocks:
                            self.blocks[block_hash].confirmed = True
                elif rec.get("t") == "timestamp" and rec.get("hash") in self.blocks:
                    self.blocks[rec["hash"]].local_timestamp = int(rec["ts"])

    def close(self) -> None:
        with self.lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def reset(self) -> None:
        with self.lock:
            self._clear()
            if self.path is not None:
                if self._file is not None:
                    self._file.close()
                self._file = self.path.open("w", encoding="utf-8")
                self._write([LOG_FORMAT])
            self._write([self._genesis().to_record()])

    # block creation --------------------------------------------------------------------
    def _new_block(self, account: str, subtype: str, amount: int, link: str, confirmed: bool, now: int) -> Block:
        chain = self.chains.get(account)
        head = self.blocks[chain[-1]] if chain else None
        previous = head.hash if head else ZERO_HASH
        representative = head.representative if head else REPRESENTATIVE
        base = head.balance if head else 0
        balance = base - amount if subtype == "send" else base + amount
        block = Block(
            hash=state_block_hash(account, previous, representative, balance, link),
            account=account,
            previous=previous,
            representative=representative,
            balance=balance,
            link=link,
            subtype=subtype,
            amount=amount,
            height=(head.height + 1) if head else 1,
            local_timestamp=now,
            confirmed=confirmed,
        )
        self._apply(block)
        return block

    def _genesis(self) -> Block:
        # Like the real genesis open block: the whole supply, its own key as link.
        return self._new_block(FAUCET, "receive", MAX_RAW, FAUCET_KEY.hex().upper(), True, int(time.time()))

    def balance(self, account: str) -> int:
        chain = self.chains.get(account)
        return self.blocks[chain[-1]].balance if chain else 0

    def _fund(self, account: str, amount: int, now: int, out: list[Block]) -> None:
        """Top up a non-faucet source from the faucet so it can send ``amount``."""
        missing = amount - self.balance(account)
        if missing <= 0 or account == FAUCET:
            return
        send = self._new_block(FAUCET, "send", missing, _address_key(account).hex().upper(), True, now)
        out += [send, self._new_block(account, "receive", missing, send.hash, True, now)]

    def _send(
        self, source: str, destination: str, amount: int, auto_receive: bool, confirmed: bool, now: int,
        out: list[Block],
    ) -> tuple[Block, Block | None]:
        if amount <= 0:
            raise RpcError("Invalid amount number")
        self._fund(source, amount, now, out)
        if self.balance(source) < amount:
            raise RpcError("Insufficient balance")
        send = self._new_block(source, "send", amount, _address_key(destination).hex().upper(), confirmed, now)
        out.append(send)
        receive = None
        if auto_receive:
            receive = self._new_block(destination, "receive", amount, send.hash, confirmed, now)
            out.append(receive)
        return send, receive

    def send(
        self, source: str, destination: str, amount: int, *, auto_receive: bool = False, confirmed: bool = True
    ) -> tuple[Block, Block | None]:
        with self.lock:
            out: list[Block] = []
            try:
                return self._send(source, destination, amount, auto_receive, confirmed, int(time.time()), out)
            finally:
                self._commit(out)

    def bulk_send(
        self, sends: list[tuple[str, str, int]], *, auto_receive: bool = False, confirmed: bool = True
    ) -> list[Block]:
        """(source, destination, amount) triples in one lock hold and one log write."""
        with self.lock:
            out: list[Block] = []
            sent: list[Block] = []
            now = int(time.time())
            try:
                for source, destination, amount in sends:
                    sent.append(self._send(source, destination, amount, auto_receive, confirmed, now, out)[0])
            finally:
                self._commit(out)
            return sent

    def seed(self, source: str, account: str, sends: list[tuple[int, int, bool]]) -> list[Block]:
        """(amount, local_timestamp, received) sends to `account`, confirmed, stored and not announced:
        the address's past, not news."""
        with self.lock:
            out: list[Block] = []
            sent: list[Block] = []
            try:
                for amount, timestamp, received in sends:
                    sent.append(self._send(source, account, amount, received, True, timestamp, out)[0])
            finally:
                self._write(block.to_record() for block in out)
            return sent

    def backdate(self, block_hash: str, timestamp: int) -> Block:
        with self.lock:
            block = self.blocks[block_hash]
            block.local_timestamp = timestamp
            self._write([{"t": "timestamp", "hash": block_hash, "ts": timestamp}])
            return block

    def receive_all(self, account: str) -> list[Block]:
        with self.lock:
            now = int(time.time())
            out = [
                self._new_block(account, "receive", self.blocks[h].amount, h, self.blocks[h].confirmed, now)
                for h in list(self.receivable.get(account, {}))
            ]
            self._commit(out)
            return out

    def confirm(self, block_hash: str | None = None) -> list[str]:
        """Confirm a block with everything it depends on (its chain and received sends)."""
        with self.lock:
            stack = [block_hash] if block_hash else [h for h, b in self.blocks.items() if not b.confirmed]
            done: list[str] = []
            while stack:
                block = self.blocks.get(stack.pop())
                if block is None or block.confirmed:
                    continue
                block.confirmed = True
                done.append(block.hash)
                if block.previous != ZERO_HASH:
                    stack.append(block.previous)
                if block.subtype == "receive" and block.link in self.blocks:
                    stack.append(block.link)
            if done:
                self._write([{"t": "confirm", "hashes": done}])
                # The node names how each was cemented: the asked block by its election; a dependency
                # while its own election still ran (a recent block) or without any (an old one).
                now = int(time.time())
                types = {h: "active_confirmation_height" if now - self.blocks[h].local_timestamp < ELECTION_SECONDS
                         else "inactive" for h in done[1:]} if block_hash else {}
                self._announce([self.blocks[h] for h in reversed(done)], types)  # dependencies first
            return done

    # queries used by several actions -------------------------------------------------
    def confirmed_head(self, account: str) -> Block | None:
        for block_hash in reversed(self.chains.get(account, [])):
            block = self.blocks[block_hash]
            if block.confirmed:
                return block
        return None

    def counterparty(self, block: Block) -> str:
        if block.subtype == "send":
            return block.link_as_account
        source = self.blocks.get(block.link)
        return source.account if source else block.account  # genesis receives from itself

    def successor(self, block: Block) -> str:
        chain = self.chains[block.account]
        return chain[block.height] if len(chain) > block.height else ZERO_HASH


# --- parameter parsing (the node's own error texts) -----------------------------------------


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


# --- read actions ------------------------------------------------------------------------


def account_info(ledger: NanoLedger, req: dict[str, Any]) -> dict[str, Any]:
    account = _account(req.get("account"))
    chain = ledger.chains.get(account)
    if not chain:
        raise RpcError("Account not found")
    head = ledger.blocks[chain[-1]]
    cemented = ledger.confirmed_head(account)
    out: dict[str, Any] = {
        "frontier": head.hash,
        "open_block": chain[0],
        "representative_block": chain[0],
        "balance": str(head.balance),
        "modified_timestamp": str(head.local_timestamp),
        "block_count": str(len(chain)),
        "account_version": "2",
    }
    # The node prints one pair or the other, never both: confirmed_* with include_confirmed.
    if not _flag(req, "include_confirmed"):
        out["confirmation_height"] = str(cemented.height if cemented else 0)
        out["confirmation_height_frontier"] = cemented.hash if cemented else ZERO_HASH
    if _flag(req, "representative"):
        out["representative"] = head.representative
    if _flag(req, "weight"):
        out["weight"] = "0"
    want_receivable = _flag(req, "receivable") or _flag(req, "pending")
    if want_receivable:
        total = sum(ledger.blocks[h].amount for h in ledger.receivable.get(account, {}))
        out["receivable"] = out["pending"] = str(total)
    if _flag(req, "include_confirmed"):
        out["confirmed_balance"] = str(cemented.balance if cemented else 0)
        out["confirmed_height"] = str(cemented.height if cemented else 0)
        out["confirmed_frontier"] = cemented.hash if cemented else ZERO_HASH
        if "representative" in out:
            out["confirmed_representative"] = head.representative
        if want_receivable:
            total = sum(
                ledger.blocks[h].amount for h in ledger.receivable.get(account, {}) if ledger.blocks[h].confirmed
            )
            out["confirmed_receivable"] = out["confirmed_pending"] = str(total)
    return out


def account_balance(ledger: NanoLedger, req: dict[str, Any]) -> dict[str, Any]:
    account = _account(req.get("account"))
    pending = ledger.receivable.get(account, {})
    only_confirmed = _flag(req, "include_only_confirmed", True)
    total = sum(ledger.blocks[h].amount for h in pending if ledger.blocks[h].confirmed or not only_confirmed)
    if only_confirmed:
        head = ledger.confirmed_head(account)
        balance = head.balance if head else 0
    else:
        balance = ledger.balance(account)
    return {"balance": str(balance), "pending": str(total), "receivable": str(total)}


def _history_entry(ledger: NanoLedger, block: Block, raw: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if raw:
        entry = {
            "type": "state",
            "representative": block.representative,
            "link": block.link,
            "balance": str(block.balance),
            "previous": block.previous,
            "subtype": block.subtype,
        }
    else:
        entry["type"] = block.subtype
    entry.update(
        account=ledger.counterparty(block),
        amount=str(block.amount),
        local_timestamp=str(block.local_timestamp),
        height=str(block.height),
        hash=block.hash,
        confirmed=_bool_str(block.confirmed),
    )
    if raw:
        contents = block.contents()
        entry["work"], entry["signature"] = contents["work"], contents["signature"]
    return entry


def account_history(ledger: NanoLedger, req: dict[str, Any]) -> dict[str, Any]:
    count = _count(req, required=True)
    raw, reverse = _flag(req, "raw"), _flag(req, "reverse")
    offset = _count(req, "offset") or 0
    if req.get("head"):
        head = ledger.blocks.get(_hash(req["head"]))
        if head is None:
            raise RpcError("Block not found")
        account, index = head.account, head.height - 1
    else:
        account = _account(req.get("account"))
        if account not in ledger.chains:
            return {"account": account, "history": ""}  # the real node: no error, empty history
        index = 0 if reverse else len(ledger.chains[account]) - 1
    chain = ledger.chains[account]
    step = 1 if reverse else -1
    index += step * offset
    history = []
    while 0 <= index < len(chain) and (count is None or len(history) < count):
        history.append(_history_entry(ledger, ledger.blocks[chain[index]], raw))
        index += step
    out: dict[str, Any] = {"account": account, "history": history or ""}
    if 0 <= index < len(chain):
        out["next" if reverse else "previous"] = chain[index]
    return out


def accounts_receivable(ledger: NanoLedger, req: dict[str, Any]) -> dict[str, Any]:
    accounts = _accounts(req)
    count = _count(req)
    threshold = _amount(req.get("threshold", "0"), "Bad threshold number")
    source, sorting = _flag(req, "source"), _flag(req, "sorting")
    only_confirmed = _flag(req, "include_only_confirmed", True)
    simple = threshold == 0 and not source and not sorting  # the node then lists bare hashes
    out: dict[str, Any] = {}
    for account in accounts:
        picked: list[Block] = []
        # The node walks its receivable table in (account, hash) key order and cuts at count.
        for block_hash in sorted(ledger.receivable.get(account, ())):
            if count is not None and len(picked) >= count:
                break
            block = ledger.blocks[block_hash]
            if (only_confirmed and not block.confirmed) or block.amount < threshold:
                continue
            picked.append(block)
        if not picked:
            continue
        if sorting:
            picked.sort(key=lambda b: b.amount, reverse=True)
        if simple:
            out[account] = [b.hash for b in picked]
        elif source:
            out[account] = {b.hash: {"amount": str(b.amount), "source": b.account} for b in picked}
        else:
            out[account] = {b.hash: str(b.amount) for b in picked}
    return {"blocks": out or ""}


def accounts_pending(ledger: NanoLedger, req: dict[str, Any]) -> dict[str, Any]:
    """The pre-V24 name; from V24 the node answers it as accounts_receivable, marked deprecated."""
    major = _emulated_major(ledger)
    found = accounts_receivable(ledger, req)
    return found if major is not None and major < 24 else {"deprecated": "1", **found}


def accounts_frontiers(ledger: NanoLedger, req: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(req.get("accounts"), list):
        raise RpcError("Missing accounts")
    frontiers: dict[str, str] = {}
    errors: dict[str, str] = {}
    for value in req["accounts"]:
        try:
            account = _account(value)
        except RpcError:
            errors[str(value)] = "Bad account number"
            continue
        chain = ledger.chains.get(account)
        if chain:
            frontiers[account] = chain[-1]
        else:
            errors[account] = "Account not found"
    out: dict[str, Any] = {"frontiers": frontiers} if frontiers else {}  # the node omits an empty one
    if errors:
        out["errors"] = errors
    return out


def _block_info(ledger: NanoLedger, block: Block, req: dict[str, Any], *, options: bool = True) -> dict[str, Any]:
    """One block as blocks_info prints it; block_info (options=False) has no receivable/receive_hash/source."""
    contents = block.contents()
    out: dict[str, Any] = {
        "block_account": block.account,
        "amount": str(block.amount),
        "balance": str(block.balance),
        "height": str(block.height),
        "local_timestamp": str(block.local_timestamp),
        "successor": ledger.successor(block),
        "confirmed": _bool_str(block.confirmed),
        "contents": contents if _flag(req, "json_block") else json.dumps(contents, indent=4),
        "subtype": block.subtype,
    }
    if not options:
        return out
    is_open_send = block.subtype == "send" and block.hash not in ledger.received_by
    if _flag(req, "receivable") or _flag(req, "pending"):
        out["receivable"] = out["pending"] = "1" if is_open_send else "0"
    if _flag(req, "receive_hash"):
        out["receive_hash"] = ledger.received_by.get(block.hash, ZERO_HASH) if block.subtype == "send" else ZERO_HASH
    if _flag(req, "source"):
        out["source_account"] = ledger.counterparty(block) if block.subtype == "receive" else "0"
    return out


def block_info(ledger: NanoLedger, req: dict[str, Any]) -> dict[str, Any]:
    block = ledger.blocks.get(_hash(req.get("hash"), "Invalid block hash"))
    if block is None:
        raise RpcError("Block not found")
    return _block_info(ledger, block, req, options=False)


def blocks_info(ledger: NanoLedger, req: dict[str, Any]) -> dict[str, Any]:
    hashes = req.get("hashes")
    if not isinstance(hashes, list):
        raise RpcError("Bad hash number")
    include_not_found = _flag(req, "include_not_found")
    found: dict[str, Any] = {}
    missing: list[str] = []
    for value in hashes:
        block = ledger.blocks.get(_hash(value))
        if block is not None:
            found[block.hash] = _block_info(ledger, block, req)
        elif include_not_found:
            missing.append(value)
        else:
            raise RpcError("Block not found")
    out: dict[str, Any] = {"blocks": found or ""}
    if include_not_found:
        out["blocks_not_found"] = missing or ""
    return out


def block_count(ledger: NanoLedger, req: dict[str, Any]) -> dict[str, Any]:
    cemented = sum(1 for block in ledger.blocks.values() if block.confirmed)
    return {"count": str(len(ledger.blocks)), "unchecked": "0", "cemented": str(cemented)}


def receivable_exists(ledger: NanoLedger, req: dict[str, Any]) -> dict[str, Any]:
    block = ledger.blocks.get(_hash(req.get("hash")))
    if block is None:
        raise RpcError("Block not found")
    exists = block.subtype == "send" and block.hash not in ledger.received_by
    if _flag(req, "include_only_confirmed", True) and not block.confirmed:
        exists = False
    return {"exists": "1" if exists else "0"}


def version(ledger: NanoLedger, req: dict[str, Any]) -> dict[str, Any]:
    return {
        "rpc_version": "1",
        "store_version": "24",
        "protocol_version": "20",
        "node_vendor": ledger.node_vendor,
        "store_vendor": "sandbox",
        "network": "sandbox",
        "network_identifier": ZERO_HASH,
        "build_info": "Kassa sandbox",
    }


def _emulated_major(ledger: NanoLedger) -> int | None:
    match = re.match(r"^Nano V?(\d+)\.", ledger.node_vendor)
    return int(match.group(1)) if match else None


# Actions a node older than the key's major version does not know.
ACTION_SINCE = {"accounts_receivable": 24}


# --- test-only actions -------------------------------------------------------------------


def _source(value: Any) -> str:
    return FAUCET if value in (None, "", "faucet") else _account(value)


def send(ledger: NanoLedger, req: dict[str, Any]) -> dict[str, Any]:
    sent, received = ledger.send(
        _source(req.get("source")),
        _account(req.get("destination")),
        _amount(req.get("amount")),
        auto_receive=_flag(req, "auto_receive"),
        confirmed=_flag(req, "confirmed", True),
    )
    out = {"block": sent.hash}
    if received is not None:
        out["receive_block"] = received.hash
    return out


def bulk_send(ledger: NanoLedger, req: dict[str, Any]) -> dict[str, Any]:
    items = req.get("sends")
    if not isinstance(items, list):
        raise RpcError("Missing sends")
    default_source = _source(req.get("source"))
    sends = [
        (
            _source(item["source"]) if item.get("source") else default_source,
            _account(item.get("destination")),
            _amount(item.get("amount")),
        )
        for item in items
    ]
    blocks = ledger.bulk_send(sends, auto_receive=_flag(req, "auto_receive"), confirmed=_flag(req, "confirmed", True))
    return {"blocks": [block.hash for block in blocks], "count": str(len(blocks))}


def receive_all(ledger: NanoLedger, req: dict[str, Any]) -> dict[str, Any]:
    return {"blocks": [block.hash for block in ledger.receive_all(_account(req.get("account")))]}


def confirm(ledger: NanoLedger, req: dict[str, Any]) -> dict[str, Any]:
    block_hash = _hash(req["hash"]) if req.get("hash") else None
    if block_hash is not None and block_hash not in ledger.blocks:
        raise RpcError("Block not found")
    return {"confirmed": ledger.confirm(block_hash)}


def reset(ledger: NanoLedger, req: dict[str, Any]) -> dict[str, Any]:
    ledger.reset()
    return {"success": "", "faucet": FAUCET}


def sandbox_fault(ledger: NanoLedger, req: dict[str, Any]) -> dict[str, Any]:
    mode = req.get("mode", "none")
    if mode not in FAULT_MODES:
        raise RpcError(f"Unknown fault mode (use one of {', '.join(FAULT_MODES)})")
    delay = req.get("delay")
    ledger.fault.set(mode, _count(req), float(delay) if delay is not None else None)
    return ledger.fault.describe()


def sandbox_version(ledger: NanoLedger, req: dict[str, Any]) -> dict[str, Any]:
    vendor = str(req.get("node_vendor") or SANDBOX_VENDOR)
    ledger.node_vendor = vendor
    return {"node_vendor": vendor}


def _timestamp(value: Any) -> int:
    try:
        timestamp = int(value if value is not None else 0)
    except (TypeError, ValueError):
        raise RpcError("Invalid local_timestamp") from None
    if timestamp < 0:
        raise RpcError("Invalid local_timestamp")
    return timestamp


def sandbox_seed(ledger: NanoLedger, req: dict[str, Any]) -> dict[str, Any]:
    account = _account(req.get("account"))
    groups = {name: req.get(name) or [] for name in ("history", "receivable")}
    if not all(isinstance(items, list) and all(isinstance(i, dict) for i in items) for items in groups.values()):
        raise RpcError("history and receivable are lists of {amount, local_timestamp}")
    sends = [(_amount(item.get("amount")), _timestamp(item.get("local_timestamp")), name == "history")
             for name, items in groups.items() for item in items]
    blocks = ledger.seed(_source(req.get("source")), account, sends)
    hashes = [block.hash for block in blocks]
    return {"history": hashes[:len(groups["history"])], "receivable": hashes[len(groups["history"]):]}


def sandbox_backdate(ledger: NanoLedger, req: dict[str, Any]) -> dict[str, Any]:
    block_hash = _hash(req.get("hash"))
    if block_hash not in ledger.blocks:
        raise RpcError("Block not found")
    block = ledger.backdate(block_hash, _timestamp(req.get("local_timestamp")))
    return {"hash": block.hash, "local_timestamp": str(block.local_timestamp)}


def sandbox_ws(ledger: NanoLedger, req: dict[str, Any]) -> dict[str, Any]:
    if "duplicate_every" in req:
        ledger.duplicate_every = _count(req, "duplicate_every") or 0
    return {"duplicate_every": str(ledger.duplicate_every)}


def sandbox_info(ledger: NanoLedger, req: dict[str, Any]) -> dict[str, Any]:
    return {
        "faucet": FAUCET,
        "faucet_balance": str(ledger.balance(FAUCET)),
        "accounts": str(len(ledger.chains)),
        "blocks": str(len(ledger.blocks)),
        "receivable": str(sum(len(p) for p in ledger.receivable.values())),
        "fault": ledger.fault.describe(),
    }


Action = Callable[[NanoLedger, dict[str, Any]], dict[str, Any]]
ACTIONS: dict[str, Action] = {
    "account_info": account_info,
    "account_balance": account_balance,
    "account_history": account_history,
    "accounts_receivable": accounts_receivable,
    "accounts_pending": accounts_pending,
    "accounts_frontiers": accounts_frontiers,
    "block_info": block_info,
    "blocks_info": blocks_info,
    "block_count": block_count,
    "receivable_exists": receivable_exists,
    "version": version,
    # test-only
    "send": send,
    "bulk_send": bulk_send,
    "receive_all": receive_all,
    "confirm": confirm,
    "reset": reset,
    "sandbox_fault": sandbox_fault,
    "sandbox_info": sandbox_info,
    "sandbox_version": sandbox_version,
    "sandbox_seed": sandbox_seed,
    "sandbox_backdate": sandbox_backdate,
    "sandbox_ws": sandbox_ws,
}
# Calls that still work while a fault is injected, so a test can switch it off.
FAULT_EXEMPT = frozenset({"sandbox_fault", "sandbox_info", "sandbox_version", "sandbox_ws", "reset"})


# --- HTTP ------------------------------------------------------------------------------


def handle_rpc(ledger: NanoLedger, request: Request) -> Response:
    try:
        req = request.json()
    except ValueError:
        return Response.json({"error": "Unable to parse JSON"})
    if not isinstance(req, dict):
        return Response.json({"error": "Unable to parse JSON"})
    action = req.get("action")
    if action not in FAULT_EXEMPT:
        mode, delay = ledger.fault.take()
        if mode == "error500":
            return Response.json({"error": "sandbox fault: internal server error"}, status=500)
        if mode == "garbage":
            return Response(200, {"Content-Type": "application/json"}, b"<html>502 Bad Gateway</html>")
        if mode == "timeout":
            time.sleep(delay)  # the client gives up first; we answer normally afterwards
    handler = ACTIONS.get(action) if isinstance(action, str) else None
    major = _emulated_major(ledger)
    if handler is not None and major is not None and major < ACTION_SINCE.get(action, 0):
        handler = None  # an emulated older node does not have it yet
    if handler is None:
        return Response.json({"error": "Unknown command"})
    try:
        with ledger.lock:
            result = handler(ledger, req)
    except RpcError as exc:
        result = {"error": str(exc)}
    return Response.json(result)


def handle_info(ledger: NanoLedger, request: Request) -> Response:
    return Response.json({"node": "Kassa sandbox Nano node", "rpc": f"POST JSON to {RPC_PATH}", "faucet": FAUCET})


def routes(ctx: SandboxContext) -> list[Route]:
    ledger = NanoLedger(ctx.state_dir / LEDGER_FILE)
    ctx.services["nano"] = ledger
    ctx.on_close(ledger.close)
    if (address := ctx.options.get("nano_ws")) is not None:
        feed = ConfirmationFeed()
        feed.start(*address)
        ledger.on_confirmed.append(feed.publish)
        ledger.duplicate_every = WS_DUPLICATE_EVERY
        ctx.services["nano_ws"] = feed
        ctx.on_close(feed.stop)  # closers run last-first: the feed stops before the ledger closes
    return [
        Route("POST", RPC_PATH, functools.partial(handle_rpc, ledger)),
        Route("GET", RPC_PATH, functools.partial(handle_info, ledger)),
    ]

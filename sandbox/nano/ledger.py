"""The sandbox Nano node's ledger: an in-memory block-lattice under one lock, persisted as an
append-only JSON-lines log, and the fault switch its RPC obeys."""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from core.nano_codec import MAX_RAW
from sandbox.nano.blocks import (
    FAUCET,
    FAUCET_KEY,
    REPRESENTATIVE,
    ZERO_HASH,
    Block,
    RpcError,
    _address_key,
    state_block_hash,
)

logger = logging.getLogger("sandbox.nano")

LOG_FORMAT = {"format": "kassa-sandbox-nano", "version": 1}
ELECTION_SECONDS = 300  # an unconfirmed block younger than this still has an election running
SANDBOX_VENDOR = "Kassa sandbox Nano node"  # not "Nano Vxx": clients take it as the current protocol


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


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

"""A scripted Nano node for monitor tests: answers in the real node's shapes (V25, raw history,
string numbers, `""` for empty lists) from a chain and a receivable table the test writes.

Unlike the sandbox it can hold what a real ledger holds: years-old blocks with re-synced or "0"
local timestamps, legacy entries, and unreceived sends from before any payment.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

FIXTURES = Path(__file__).parent / "providers" / "fixtures" / "nano_node"
VERSION = json.loads((FIXTURES / "version_v25.json").read_text())["response"]


def block_hash(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest().upper()


@dataclass
class FakeNode:
    address: str
    chain: list[dict] = field(default_factory=list)      # raw history entries, oldest first
    receivable: dict[str, dict] = field(default_factory=dict)  # send hash -> {amount, source, local_timestamp}
    asked: list[str] = field(default_factory=list)

    # --- building the ledger ---------------------------------------------------------------
    def receive(self, name: str, amount: int, *, sender: str, timestamp: int, confirmed: bool = True,
                send: str | None = None) -> str:
        """A state receive block of the send `send` (default: a send named after this block)."""
        previous = self.chain[-1]["hash"] if self.chain else "0" * 64
        entry = {"type": "state", "representative": self.address, "link": send or block_hash(f"send:{name}"),
                 "balance": str(sum(int(e["amount"]) for e in self.chain) + amount), "previous": previous,
                 "subtype": "receive", "account": sender, "amount": str(amount),
                 "local_timestamp": str(timestamp), "height": str(len(self.chain) + 1), "hash": block_hash(name),
                 "confirmed": "true" if confirmed else "false"}
        self.chain.append(entry)
        return entry["link"]

    def pending(self, name: str, amount: int, *, sender: str, timestamp: int) -> str:
        self.receivable[block_hash(name)] = {"amount": str(amount), "source": sender, "local_timestamp": str(timestamp)}
        return block_hash(name)

    def wallet_receives(self, send: str, *, timestamp: int) -> None:
        """The seller's wallet receives a receivable send (a new receive block on top)."""
        info = self.receivable.pop(send)
        self.receive(f"recv:{send}", int(info["amount"]), sender=info["source"], timestamp=timestamp, send=send)

    # --- the RPC --------------------------------------------------------------------------
    def __call__(self, request):
        body = json.loads(request.body)
        self.asked.append(body["action"])
        answer = getattr(self, body["action"])(body)
        return 200, {}, json.dumps(answer)

    def version(self, body):
        return VERSION

    def accounts_receivable(self, body):
        threshold = int(body.get("threshold", "0"))
        found = {h: {"amount": v["amount"], "source": v["source"]} for h, v in sorted(self.receivable.items())
                 if int(v["amount"]) >= threshold}
        return {"blocks": {self.address: found} if found and self.address in body["accounts"] else ""}

    def accounts_frontiers(self, body):
        if not self.chain:
            return {"errors": {self.address: "Account not found"}}
        return {"frontiers": {self.address: self.chain[-1]["hash"]}}

    def account_history(self, body):
        newest_first = list(reversed(self.chain))
        start = next(i for i, e in enumerate(newest_first) if e["hash"] == body["head"]) if body.get("head") else 0
        page = newest_first[start:start + int(body["count"])]
        out = {"account": self.address, "history": page or ""}
        if start + len(page) < len(newest_first):
            out["previous"] = newest_first[start + len(page)]["hash"]
        return out

    def blocks_info(self, body):
        found = {h: {"block_account": v["source"], "amount": v["amount"], "balance": "0", "height": "1",
                     "local_timestamp": v["local_timestamp"], "successor": "0" * 64, "confirmed": "true",
                     "subtype": "send", "contents": {"type": "state", "link_as_account": self.address}}
                 for h, v in self.receivable.items() if h in body["hashes"]}
        missing = [h for h in body["hashes"] if h not in found]
        return {"blocks": found or "", "blocks_not_found": missing or ""}

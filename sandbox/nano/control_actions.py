"""The sandbox Nano node's test-only actions (not on a real node): sends, confirmations, faults,
seeding an address's past, and which node version to emulate."""
from __future__ import annotations

from typing import Any

from sandbox.nano.blocks import FAUCET, RpcError
from sandbox.nano.ledger import FAULT_MODES, SANDBOX_VENDOR, NanoLedger
from sandbox.nano.params import _account, _amount, _count, _flag, _hash


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


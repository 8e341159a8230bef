"""The sandbox Nano node's read actions, with the real node's response shapes (V24+)."""
from __future__ import annotations

import json
import re
from typing import Any

from sandbox.nano.blocks import ZERO_HASH, Block, RpcError
from sandbox.nano.ledger import NanoLedger
from sandbox.nano.params import _account, _accounts, _amount, _bool_str, _count, _flag, _hash


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

"""The sandbox Nano node over HTTP: JSON-RPC at ``POST /nano``, the action table, and the
websocket feed when the ``nano_ws`` option is set."""
from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from sandbox.http_types import Request, Response, Route
from sandbox.nano.blocks import FAUCET, RpcError
from sandbox.nano.control_actions import (
    bulk_send,
    confirm,
    receive_all,
    reset,
    sandbox_backdate,
    sandbox_fault,
    sandbox_info,
    sandbox_seed,
    sandbox_version,
    sandbox_ws,
    send,
)
from sandbox.nano.ledger import NanoLedger
from sandbox.nano.read_actions import (
    ACTION_SINCE,
    _emulated_major,
    account_balance,
    account_history,
    account_info,
    accounts_frontiers,
    accounts_pending,
    accounts_receivable,
    block_count,
    block_info,
    blocks_info,
    receivable_exists,
    version,
)
from sandbox.nano_ws import ConfirmationFeed
from sandbox.sandbox_app import SandboxContext

RPC_PATH = "/nano"
LEDGER_FILE = "nano.jsonl"
WS_DUPLICATE_EVERY = 5  # with the websocket on, every 5th confirmation is reported twice (sandbox_ws)


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

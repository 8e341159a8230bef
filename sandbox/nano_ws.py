"""The sandbox Nano node's websocket: confirmations pushed as they happen, on a port of
its own as on a real node (RPC 7076, websocket 7078), with the node's message shapes
(docs.nano.org/integration-guides/websockets).

Actions a client sends (each may carry "ack": true and an "id", echoed in the ack):

- {"action": "subscribe", "topic": "confirmation", "options": {"accounts": [...]}}
  Without "accounts", every confirmation. With it, a block whose account or link_as_account
  (a send's destination) is listed; an empty list lets nothing through. Invalid accounts
  are skipped. All as the node's confirmation_options::should_filter.
- {"action": "update", "topic": "confirmation", "options": {"accounts_add": [...], "accounts_del": [...]}}
  Acknowledged only on a subscribed connection and with options, as the node's (no ack otherwise).
- {"action": "unsubscribe", "topic": "confirmation"}
- {"action": "ping"} is answered {"ack": "pong", "time": ...}.

A confirmation:
    {"topic": "confirmation", "time": "<ms>", "message": {"account", "amount", "hash",
     "confirmation_type", "block": {<state block>, "subtype": "send"}}}
confirmation_type is the node's: "active_quorum" (its own election), "active_confirmation_height"
or "inactive" (cemented as a dependency, with or without an election running); the ledger picks it
and may report a block twice (sandbox.nano.ledger.NanoLedger._announce).

Delivery is best effort, as the node's: the ledger hands confirmed blocks to a queue
(it must never wait on a client while holding its lock) and one thread sends them.
"""
from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from core.nano_codec import InvalidAddress, normalize_address
from sandbox.nano.blocks import Block

logger = logging.getLogger("sandbox.nano.ws")
# websockets' own open/close lines would drown `sandbox serve --quiet`; its warnings still show.
server_logger = logging.getLogger("sandbox.nano.ws.server")
server_logger.setLevel(logging.WARNING)

TOPIC = "confirmation"
MAX_MESSAGE_BYTES = 8 * 1024 * 1024  # a subscription to ~100k accounts


def _now_ms() -> str:
    return str(int(time.time() * 1000))


def _accounts(values: Any) -> set[str]:
    accounts = set()
    for value in values if isinstance(values, list) else []:
        try:
            accounts.add(normalize_address(value))
        except (InvalidAddress, TypeError):
            logger.info("nano ws: skipping invalid account %r", value)
    return accounts


def involves(block: Block, accounts: set[str] | None) -> bool:
    """Whether a subscriber with this filter (None: every account) gets the block."""
    if accounts is None:
        return True
    return block.account in accounts or block.link_as_account in accounts


def confirmation_message(block: Block, confirmation_type: str = "active_quorum") -> dict[str, Any]:
    return {"topic": TOPIC, "time": _now_ms(), "message": {
        "account": block.account, "amount": str(block.amount), "hash": block.hash,
        "confirmation_type": confirmation_type, "block": {**block.contents(), "subtype": block.subtype}}}


class ConfirmationFeed:
    """The websocket server and its subscribers (connection → account filter or None)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[ServerConnection, set[str] | None] = {}
        self._outbox: queue.SimpleQueue[list[tuple[Block, str]] | None] = queue.SimpleQueue()
        self._server: Server | None = None
        self._threads: list[threading.Thread] = []
        self.url = ""

    def start(self, host: str, port: int) -> str:
        self._server = serve(self._serve_client, host, port, compression=None, max_size=MAX_MESSAGE_BYTES,
                             logger=server_logger)
        bound_host, bound_port = self._server.socket.getsockname()[:2]
        self.url = f"ws://{bound_host}:{bound_port}"
        self._threads = [threading.Thread(target=self._server.serve_forever, name="nano-ws", daemon=True),
                         threading.Thread(target=self._send_loop, name="nano-ws-send", daemon=True)]
        for thread in self._threads:
            thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
        self._outbox.put(None)
        for thread in self._threads:
            thread.join(timeout=5)

    def publish(self, blocks: list[tuple[Block, str]]) -> None:
        """(block, confirmation_type) pairs; called by the ledger under its lock: only queues."""
        self._outbox.put(blocks)

    def subscriptions(self) -> list[set[str] | None]:
        """Each subscriber's account filter (None: every account), copied."""
        with self._lock:
            return [None if accounts is None else set(accounts) for accounts in self._subscribers.values()]

    def _send_loop(self) -> None:
        while (blocks := self._outbox.get()) is not None:
            for block, confirmation_type in blocks:
                with self._lock:
                    targets = [conn for conn, accounts in self._subscribers.items() if involves(block, accounts)]
                if not targets:
                    continue
                text = json.dumps(confirmation_message(block, confirmation_type))
                for connection in targets:
                    with contextlib.suppress(ConnectionClosed):  # its own thread drops it
                        connection.send(text)

    def _serve_client(self, connection: ServerConnection) -> None:
        try:
            for raw in connection:
                reply = self._act(connection, raw)
                if reply is not None:
                    connection.send(json.dumps(reply))
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self._subscribers.pop(connection, None)

    def _act(self, connection: ServerConnection, raw: str | bytes) -> dict[str, Any] | None:
        try:
            request = json.loads(raw)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            logger.info("nano ws: ignoring a message that is not a JSON object")
            return None
        action, options = request.get("action"), request.get("options")
        options = options if isinstance(options, dict) else {}
        if action == "ping":  # always acknowledged, with the id if one was given (the node's send_ack)
            return {"ack": "pong", "time": _now_ms(), **({"id": request["id"]} if request.get("id") else {})}
        if request.get("topic") != TOPIC or action not in ("subscribe", "update", "unsubscribe"):
            logger.info("nano ws: ignoring action %r on topic %r", action, request.get("topic"))
            return None
        with self._lock:
            if action == "subscribe":
                self._subscribers[connection] = _accounts(options["accounts"]) if "accounts" in options else None
            elif action == "unsubscribe":
                self._subscribers.pop(connection, None)
            elif connection not in self._subscribers or not isinstance(request.get("options"), dict):
                return None  # the node's update fails here, and a failed action is never acknowledged
            elif (accounts := self._subscribers[connection]) is not None:  # update a filtered subscription
                accounts |= _accounts(options.get("accounts_add"))
                accounts -= _accounts(options.get("accounts_del"))
        if request.get("ack") is not True:
            return None
        ack = {"ack": action, "time": _now_ms()}
        if "id" in request:
            ack["id"] = request["id"]
        return ack

"""Follow the Nano node's websocket so that a payment completes about a second after its
send is confirmed, not at the next beat tick.

The websocket is a hint, never the source of truth: the node's docs say delivery is not
guaranteed and a block may be reported more than once. So a confirmation touching a
watched address only makes `monitor_nano.check_addresses` read that address over RPC at
once, the same verified path the beat tick takes (and observation_apply is idempotent);
the beat tick stays the safety net for anything missed while disconnected.

Protocol (docs.nano.org/integration-guides/websockets): one "confirmation" subscription
filtered to the addresses with reserved payments, kept current with "update"
(accounts_add / accounts_del) every `refresh_seconds`; confirmations arriving within
`batch_seconds` of each other are checked together. Every confirmation_type the node sends
(active_quorum, active_confirmation_height, inactive) counts alike, and a duplicate only
costs one more idempotent check.

Each request carries its own id, so an ack names what the node now filters on. The node
acknowledges only actions that succeeded (an update on a session with no subscription gets
nothing), so a request still unacknowledged after `ack_timeout` seconds is replaced by a
full subscribe, which the node applies whatever it had.
"""
from __future__ import annotations

import itertools
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable

from django.db import DatabaseError, close_old_connections
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import ClientConnection, connect

from config import json_input
from core.nano_codec import InvalidAddress, normalize_address
from payments.monitor_nano import check_addresses, watched_addresses
from payments.providers.errors import ProviderError

log = logging.getLogger("kassa.nano.listener")

TOPIC = "confirmation"
SUBSCRIPTION_ID = "kassa-payments"
MAX_BACKOFF_SECONDS = 30.0
MAX_MESSAGE_BYTES = 1024 * 1024  # one confirmation is ~1 kB


def parse(raw: str | bytes) -> dict:
    """A websocket message as a dict ({} for anything that is not a JSON object, or one nested so
    deeply that Python's json would raise RecursionError and end the listener)."""
    try:
        data = json_input.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def is_our_ack(data: dict) -> bool:
    return data.get("ack") in ("subscribe", "update") and str(data.get("id", "")).startswith(SUBSCRIPTION_ID)


def touched_addresses(data: dict, watched: set[str]) -> set[str]:
    """The watched addresses a confirmation involves: the block's account or its
    link_as_account (a send's destination). Anything else, or a malformed one, gives none."""
    try:
        message = data["message"] if data.get("topic") == TOPIC else {}
        candidates = (message.get("account"), (message.get("block") or {}).get("link_as_account"))
    except (TypeError, KeyError, AttributeError):
        return set()
    touched = set()
    for value in candidates:
        try:
            address = normalize_address(value)
        except (InvalidAddress, TypeError):
            continue
        if address in watched:
            touched.add(address)
    return touched


def _subscribe(addresses: Iterable[str], request_id: str = SUBSCRIPTION_ID) -> str:
    return json.dumps({"action": "subscribe", "topic": TOPIC, "ack": True, "id": request_id,
                       "options": {"accounts": sorted(addresses)}})


def _update(added: Iterable[str], removed: Iterable[str], request_id: str = SUBSCRIPTION_ID) -> str:
    return json.dumps({"action": "update", "topic": TOPIC, "ack": True, "id": request_id,
                       "options": {"accounts_add": sorted(added), "accounts_del": sorted(removed)}})


def _default_watched() -> set[str]:
    try:
        return watched_addresses()
    finally:
        close_old_connections()  # a long-lived process: no stale connection between reads


def _default_check(addresses: set[str]) -> dict:
    try:
        return check_addresses(addresses)
    finally:
        close_old_connections()


class ConfirmationListener:
    def __init__(self, url: str, *, refresh_seconds: float = 5.0, batch_seconds: float = 0.25,
                 ack_timeout: float | None = None,
                 watched: Callable[[], set[str]] = _default_watched,
                 check: Callable[[set[str]], dict] = _default_check) -> None:
        self.url = url
        self.refresh_seconds = refresh_seconds
        self.batch_seconds = batch_seconds
        self.ack_timeout = ack_timeout if ack_timeout is not None else max(10.0, 3 * refresh_seconds)
        self._requests = itertools.count(1)
        self._watched = watched
        self._check = check
        self.subscribed = threading.Event()  # set once the node acknowledged the subscription
        self.watching: frozenset[str] = frozenset()  # the filter the node last acknowledged

    def run(self, stop: threading.Event) -> None:
        """Follow the node until `stop` is set, reconnecting with capped, jittered backoff."""
        backoff = 1.0
        while not stop.is_set():
            try:
                with connect(self.url, open_timeout=10, max_size=MAX_MESSAGE_BYTES, compression=None,
                             proxy=None) as connection:  # a node is local or on a private network
                    backoff = 1.0
                    self._follow(connection, stop)
            except (OSError, TimeoutError, ConnectionClosed, InvalidHandshake, DatabaseError) as exc:
                log.warning("nano websocket unavailable, retrying", extra={"url": self.url, "error": repr(exc),
                                                                            "retry_in": round(backoff, 1)})
            finally:
                self.subscribed.clear()
                self.watching = frozenset()
            stop.wait(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _request_id(self) -> str:
        return f"{SUBSCRIPTION_ID}-{next(self._requests)}"

    def _follow(self, connection: ClientConnection, stop: threading.Event) -> None:
        watched = self._watched()
        request_id = self._request_id()
        connection.send(_subscribe(watched, request_id))
        # request id → (the filter the node has once it acknowledges it, when it was sent)
        unacknowledged = {request_id: (frozenset(watched), time.monotonic())}
        log.info("nano websocket subscribing", extra={"url": self.url, "addresses": len(watched)})
        refresh_at = time.monotonic() + self.refresh_seconds
        due: set[str] = set()
        due_at = 0.0
        while not stop.is_set():
            wake_at = min(refresh_at, due_at) if due else refresh_at
            try:
                raw = connection.recv(timeout=max(0.0, min(wake_at - time.monotonic(), 1.0)))
            except TimeoutError:
                raw = None
            data = parse(raw) if raw is not None else {}
            if is_our_ack(data):
                acknowledged = unacknowledged.pop(str(data.get("id")), None)
                if acknowledged is not None:
                    self.watching = acknowledged[0]
                    self.subscribed.set()
            elif touched := touched_addresses(data, watched):
                if not due:
                    due_at = time.monotonic() + self.batch_seconds
                due |= touched
            now = time.monotonic()
            if due and now >= due_at:
                self._run_check(due)
                due = set()
            if now >= refresh_at:
                current = self._watched()
                if any(now - sent_at > self.ack_timeout for _filter, sent_at in unacknowledged.values()):
                    # The node refused something silently: say the whole filter again.
                    log.warning("nano websocket request not acknowledged, subscribing again",
                                extra={"url": self.url, "addresses": len(current)})
                    request_id = self._request_id()
                    connection.send(_subscribe(current, request_id))
                    unacknowledged = {request_id: (frozenset(current), now)}
                    watched = current
                elif current != watched:
                    request_id = self._request_id()
                    connection.send(_update(current - watched, watched - current, request_id))
                    unacknowledged[request_id] = (frozenset(current), now)
                    watched = current
                refresh_at = now + self.refresh_seconds

    def _run_check(self, addresses: set[str]) -> None:
        try:
            summary = self._check(addresses)
        except ProviderError as exc:  # the node's RPC is down: the beat tick retries later
            log.warning("nano websocket check skipped", extra={"error": exc.__class__.__name__})
            return
        except Exception:  # one bad check must not end the listener; beat still covers these
            log.exception("nano websocket check failed", extra={"addresses": sorted(addresses)})
            return
        log.debug("nano websocket check", extra={"summary": summary})  # the monitor logs its own tick line

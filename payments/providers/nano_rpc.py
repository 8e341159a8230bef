"""A small, strict client for a Nano node's JSON-RPC (the real node or the sandbox).

- ``call(action, **params)`` returns the node's JSON object as-is.
- The convenience methods return dataclasses with amounts parsed to exact ints.
- Transport problems (connection, timeout, 5xx, 429, unreadable JSON) are retried
  with exponential backoff, then raised as ``ProviderUnavailable``.
- An RPC ``{"error": "..."}`` answer raises ``NanoRpcError`` (a
  ``ProviderRejected``) carrying the node's message; "Account not found" and
  "Block not found" are mapped to empty results by the convenience methods.
- ``calls`` counts logical RPC calls and ``attempts`` HTTP requests, for benchmarks.

No Django and no ORM here: the Nano provider builds Observations from these results.
"""
from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
import urllib3

from config import json_input
from payments.providers.errors import ProviderRejected, ProviderUnavailable
from payments.providers.nano_results import (
    AccountHistory,
    AccountInfo,
    BlockInfo,
    HistoryEntry,
    ReceivableBlock,
    as_list,
    normalized_account,
    parse_receivable,
)

logger = logging.getLogger("payments.providers.nano_rpc")

NOT_FOUND_ERRORS = frozenset({"Account not found", "Block not found"})
UNKNOWN_COMMAND = "Unknown command"
# account_history reports `confirmed` from V23; without it no received payment could ever count.
MIN_NODE_MAJOR = 23
# accounts_receivable arrived in V24; V23 knows only accounts_pending (same request and answer).
RECEIVABLE_FROM_MAJOR = 24
# The node prints "Nano " + its version string ("Nano V25.1", "Nano V26.0RC1"; the docs show "Nano 20.0").
_VENDOR_RE = re.compile(r"^(?:Nano|RaiBlocks) V?(\d+)\.(\d+)")
# Wallet-style actions that move money: a retry after a timeout could do it twice.
UNSAFE_TO_RETRY = frozenset({"send", "bulk_send", "receive", "receive_all"})


@dataclass(frozen=True)
class NodeVersion:
    """The node's `version` answer. ``major`` is None for a vendor that is not the Nano node
    (the sandbox, another implementation): it is taken to speak the current protocol."""

    vendor: str
    major: int | None
    minor: int = 0
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> NodeVersion:
        vendor = str(data.get("node_vendor", ""))
        match = _VENDOR_RE.match(vendor)
        if match is None:
            return cls(vendor, None, 0, data)
        return cls(vendor, int(match.group(1)), int(match.group(2)), data)

    @property
    def supported(self) -> bool:
        return self.major is None or self.major >= MIN_NODE_MAJOR

    @property
    def receivable_action(self) -> str:
        if self.major is not None and self.major < RECEIVABLE_FROM_MAJOR:
            return "accounts_pending"
        return "accounts_receivable"


class NanoRpcError(ProviderRejected):
    """The node answered ``{"error": message}``. ``rpc_error`` is the node's text."""

    def __init__(self, action: str, rpc_error: str) -> None:
        super().__init__(f"nano rpc {action}: {rpc_error}", provider="nano", provider_message=rpc_error)
        self.action = action
        self.rpc_error = rpc_error

    @property
    def not_found(self) -> bool:
        return self.rpc_error in NOT_FOUND_ERRORS


class UnsupportedNode(ProviderRejected):
    """The node is older than Kassa can read safely; nothing is asked of it."""

    def __init__(self, version: NodeVersion) -> None:
        message = (f"Nano node {version.vendor!r} is not supported: Kassa needs the Nano node "
                   f"V{MIN_NODE_MAJOR}.0 or newer")
        super().__init__(message, provider="nano", provider_message=message)
        self.version = version


# --- the client ------------------------------------------------------------------------


@contextlib.contextmanager
def _parsing(action: str) -> Iterator[None]:
    """An answer of the wrong shape (a number for a hash, a negative or 41-digit amount, a missing
    key) is a broken node, like unreadable JSON: ProviderUnavailable, so a tick changes nothing
    and a shopper is told to try again, instead of a ValueError ending the tick or a request."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        logger.warning("nano rpc %s malformed answer: %s", action, type(exc).__name__,
                       extra={"provider": "nano", "rpc_action": action})
        raise ProviderUnavailable(f"nano rpc {action}: malformed answer ({type(exc).__name__})",
                                  provider="nano") from exc


def _wire(value: Any) -> Any:
    # The node's own docs send every scalar as a string; it accepts JSON booleans too.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return value


def _read_by(response: requests.Response, deadline: float) -> bytes:
    """The whole body, by `deadline`. requests' timeout bounds each socket read, not the answer: a
    node (or proxy) trickling a byte a second would hold the tick, and the ticks queue, indefinitely."""
    chunks = []
    while chunk := response.raw.read1(64 * 1024, decode_content=True):
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise requests.Timeout("the answer was not read in time")
    return b"".join(chunks)


class NanoRpcClient:
    def __init__(
        self,
        url: str,
        timeout: float = 5,
        retries: int = 2,
        session: requests.Session | None = None,
        *,
        backoff: float = 0.25,
        max_backoff: float = 4.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.retries = retries
        self.session = session or requests.Session()
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._lock = threading.Lock()
        self.calls = 0          # logical RPC calls (one per call())
        self.attempts = 0       # HTTP requests, retries included
        self.calls_by_action: Counter[str] = Counter()
        self._version: NodeVersion | None = None  # read once; again after "Unknown command" or an outage

    def __repr__(self) -> str:
        return f"NanoRpcClient({self.url!r}, calls={self.calls})"

    def reset_counters(self) -> None:
        with self._lock:
            self.calls = self.attempts = 0
            self.calls_by_action.clear()

    # transport -----------------------------------------------------------------------
    def call(self, action: str, **params: Any) -> dict[str, Any]:
        """POST ``{"action": action, **params}``; return the JSON object or raise."""
        with self._lock:
            self.calls += 1
            self.calls_by_action[action] += 1
        payload = {"action": action, **{key: _wire(value) for key, value in params.items() if value is not None}}
        retries = 0 if action in UNSAFE_TO_RETRY else self.retries
        started = time.monotonic()
        for attempt in range(retries + 1):
            try:
                data = self._post_once(action, payload)
            except ProviderUnavailable as exc:
                if attempt >= retries:
                    self._log(action, started, attempt + 1, f"unavailable: {exc}")
                    self._version = None  # it may come back as another node version: ask again then
                    raise
                self._sleep(min(self.backoff * 2**attempt, self.max_backoff))
                continue
            if isinstance(data.get("error"), str):
                self._log(action, started, attempt + 1, f"rpc error: {data['error']}")
                raise NanoRpcError(action, data["error"])
            self._log(action, started, attempt + 1, "ok")
            return data
        raise AssertionError("unreachable")  # pragma: no cover

    def _post_once(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.attempts += 1
        deadline = time.monotonic() + self.timeout
        try:
            with self.session.post(self.url, json=payload, timeout=self.timeout, stream=True) as response:
                status = response.status_code
                content = _read_by(response, deadline) if status < 400 else b""
        except (requests.Timeout, urllib3.exceptions.TimeoutError) as exc:
            raise ProviderUnavailable(f"nano rpc {action}: timed out after {self.timeout}s", provider="nano") from exc
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise ProviderUnavailable(f"nano rpc {action}: {type(exc).__name__}", provider="nano") from exc
        if status >= 500 or status == 429:
            raise ProviderUnavailable(f"nano rpc {action}: HTTP {status}", provider="nano", status=status)
        if status >= 400:
            raise ProviderRejected(f"nano rpc {action}: HTTP {status}", provider="nano", status=status)
        try:
            data = json_input.loads(content)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            # A proxy error page or a truncated body: transient from our point of view.
            raise ProviderUnavailable(f"nano rpc {action}: invalid JSON answer", provider="nano", status=status)
        return data

    def _log(self, action: str, started: float, attempts: int, outcome: str) -> None:
        level = logging.DEBUG if outcome == "ok" else logging.WARNING
        logger.log(
            level,
            "nano rpc %s %s",
            action,
            outcome,
            extra={
                "provider": "nano",
                "rpc_action": action,
                "attempts": attempts,
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )

    # convenience ------------------------------------------------------------------------
    def version(self) -> NodeVersion:
        """The node's version, asked now."""
        return NodeVersion.parse(self.call("version"))

    def node_version(self) -> NodeVersion:
        """The node's version, asked once per client (per process); raises UnsupportedNode."""
        version = self._version
        if version is None:
            version = self._version = self.version()
            logger.info("nano node %s", version.vendor, extra={"provider": "nano", "node_vendor": version.vendor,
                                                               "receivable_action": version.receivable_action})
        if not version.supported:
            error = UnsupportedNode(version)
            logger.error("%s", error, extra={"provider": "nano", "node_vendor": version.vendor})
            raise error
        return version

    def forget_version(self) -> None:
        self._version = None

    def account_info(
        self, account: str, *, receivable: bool = False, include_confirmed: bool = False
    ) -> AccountInfo | None:
        """None when the account has no blocks yet ("Account not found")."""
        try:
            data = self.call(
                "account_info",
                account=account,
                receivable=receivable or None,
                include_confirmed=include_confirmed or None,
            )
        except NanoRpcError as exc:
            if exc.not_found:
                return None
            raise
        with _parsing("account_info"):
            return AccountInfo.parse(normalized_account(account), data)

    def account_history(
        self,
        account: str,
        count: int,
        raw: bool = True,
        head: str | None = None,
        offset: int | None = None,
    ) -> AccountHistory:
        """Newest first from ``head`` (or the frontier). Empty for an unopened account."""
        try:
            data = self.call("account_history", account=account, count=count, raw=raw, head=head, offset=offset)
        except NanoRpcError as exc:
            if exc.not_found:
                return AccountHistory(normalized_account(account), [])
            raise
        with _parsing("account_history"):
            entries = [HistoryEntry.parse(item) for item in as_list(data.get("history"))]
            previous = data.get("previous") or None
            if previous is not None and not isinstance(previous, str):
                raise TypeError("previous is not a hash")
            return AccountHistory(normalized_account(account), entries, previous)

    def accounts_receivable(
        self,
        accounts: Iterable[str],
        count: int,
        source: bool = True,
        include_only_confirmed: bool = True,
        threshold: int | None = None,
    ) -> dict[str, list[ReceivableBlock]]:
        """Receivable sends per (normalized) account; accounts with none are absent.

        ``count`` is per account. Amounts are always filled in: without ``source``
        the node lists bare hashes unless a threshold is set, and every real send
        is at least 1 raw, so threshold 1 changes nothing but the shape.
        """
        if not source and not threshold:
            threshold = 1
        params = {"accounts": list(accounts), "count": count, "source": source or None,
                  "include_only_confirmed": include_only_confirmed, "threshold": threshold}
        action = self.node_version().receivable_action
        try:
            data = self.call(action, **params)
        except NanoRpcError as exc:
            if exc.rpc_error != UNKNOWN_COMMAND:
                raise
            # The node behind the URL changed version since it was asked: ask again, retry once.
            self.forget_version()
            retry = self.node_version().receivable_action
            if retry == action:
                raise
            data = self.call(retry, **params)
        with _parsing(action):
            return parse_receivable(data.get("blocks"))

    def accounts_frontiers(self, accounts: Iterable[str]) -> dict[str, str]:
        """Frontier hash per (normalized) account; unopened or invalid accounts are absent.

        Nodes V24+ report per-account problems under ``errors`` (older ones put
        ``"error: …"`` or ``""`` in place of the hash); those are logged and skipped.
        """
        data = self.call("accounts_frontiers", accounts=list(accounts))
        frontiers = data.get("frontiers")
        out: dict[str, str] = {}
        if isinstance(frontiers, Mapping):
            for account, value in frontiers.items():
                if isinstance(value, str) and len(value) == 64:
                    out[normalized_account(account)] = value.upper()
        errors = data.get("errors")
        if isinstance(errors, Mapping):
            bad = {k: v for k, v in errors.items() if v != "Account not found"}
            if bad:
                logger.warning("nano rpc accounts_frontiers: %s account errors", len(bad), extra={"errors": bad})
        return out

    def block_info(self, hash: str, json_block: bool = True) -> BlockInfo | None:  # noqa: A002 - the RPC's name
        """None when the node does not know the block ("Block not found")."""
        try:
            data = self.call("block_info", hash=hash, json_block=json_block)
        except NanoRpcError as exc:
            if exc.not_found:
                return None
            raise
        with _parsing("block_info"):
            return BlockInfo.parse(hash, data)

    def blocks_info(
        self,
        hashes: Iterable[str],
        json_block: bool = True,
        *,
        receivable: bool = False,
        source: bool = False,
    ) -> dict[str, BlockInfo]:
        """Known blocks by (upper-case) hash; unknown hashes are absent."""
        hashes = list(hashes)
        if not hashes:
            return {}
        data = self.call(
            "blocks_info",
            hashes=hashes,
            json_block=json_block,
            include_not_found=True,
            receivable=receivable or None,
            source=source or None,
        )
        blocks = data.get("blocks")
        if not isinstance(blocks, Mapping):
            return {}
        with _parsing("blocks_info"):
            return {h.upper(): BlockInfo.parse(h, info) for h, info in blocks.items()}

"""Pieces the Razorpay and CoinPay sandbox twins share: a JSON-file store, ids,
and a webhook sender that signs and retries like the real services (no Django)."""
from __future__ import annotations

import json
import logging
import random
import secrets
import string
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

logger = logging.getLogger("sandbox.gateways")

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 14) -> str:
    """Razorpay-style ids: order_XXXXXXXXXXXXXX (14 base62 characters)."""
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))


class JsonStore:
    """A dict persisted to one JSON file after each change; one lock guards both."""

    def __init__(self, path: Path, initial: dict[str, Any]) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.data = initial
        if path.exists():
            try:
                self.data.update(json.loads(path.read_text()))
            except ValueError:
                logger.warning("sandbox state %s unreadable; starting fresh", path)

    def save(self) -> None:
        with self.lock:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.data, separators=(",", ":")))
            tmp.replace(self.path)


def update_config(store: JsonStore, body: dict, keys: tuple[str, ...]) -> dict:
    """The /_sandbox/config endpoint of each twin: set the given control keys, return the config."""
    with store.lock:
        for key in keys:
            if key in body:
                store.data["config"][key] = body[key]
        store.save()
    return store.data["config"]


class WebhookSender:
    """Delivers signed events in order, one background thread per batch.

    Non-2xx answers and connection errors are retried with exponential backoff
    (the real services retry for about a day; here `retry_delays` seconds).
    Every attempt is kept in `log` for tests and the info endpoint.
    """

    def __init__(self, sign: Callable[[bytes], dict[str, str]], event_id_header: str,
                 retry_delays: tuple[float, ...] = (0.5, 1, 2, 4, 8)):
        self.sign = sign
        self.event_id_header = event_id_header
        self.retry_delays = retry_delays
        self.log: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def send_batch(self, url: str, events: list[tuple[str, bytes]], delay: float = 0.0,
                   duplicate_rate: float = 0.0) -> threading.Thread:
        """events: [(event_id, body)] delivered in this order; the call returns at once. Each event
        is delivered once more, a moment later, with probability `duplicate_rate` (real gateways
        deliver at least once, so a receiver must take the same event twice)."""
        thread = threading.Thread(target=self._run, args=(url, events, delay, duplicate_rate), daemon=True,
                                  name="sandbox-webhooks")
        thread.start()
        return thread

    def _run(self, url: str, events: list[tuple[str, bytes]], delay: float, duplicate_rate: float = 0.0) -> None:
        if delay:
            time.sleep(delay)
        for event_id, body in events:
            self._deliver(url, event_id, body)
        again = [(event_id, body) for event_id, body in events if random.random() < duplicate_rate]
        if again:
            time.sleep(random.uniform(0.1, 1.0))
            for event_id, body in again:
                self._deliver(url, event_id, body)

    def deliver_now(self, url: str, event_id: str, body: bytes) -> int | None:
        return self._deliver(url, event_id, body, retry=False)

    def _deliver(self, url: str, event_id: str, body: bytes, retry: bool = True) -> int | None:
        status = None
        for attempt, wait in enumerate((0.0, *self.retry_delays) if retry else (0.0,)):
            if wait:
                time.sleep(wait * random.uniform(0.8, 1.2))
            request = urllib.request.Request(url, data=body, method="POST", headers={  # noqa: S310 - Kassa's URL
                "Content-Type": "application/json", "User-Agent": "KassaSandbox-Webhooks/1",
                self.event_id_header: event_id, **self.sign(body)})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - configured URL
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except (urllib.error.URLError, OSError) as exc:
                status = None
                logger.info("sandbox webhook %s to %s failed: %s", event_id, url, exc)
            with self._lock:
                self.log.append({"event_id": event_id, "url": url, "attempt": attempt + 1, "status": status})
            if status is not None and 200 <= status < 300:
                return status
            if status is not None and status < 500 and status not in (408, 429):
                return status  # our receiver refused it (e.g. 400 tampered): retrying will not help
        return status

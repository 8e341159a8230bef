"""The sandbox's fault knob: make gateway endpoints answer 5xx or 429, or hang past a
client's timeout, for the next N calls or for a time window. Tests and the soak use it.

    POST   /_sandbox/faults  {"match": "refunds", "mode": "hang"|"5xx"|"429", "count": 1, "seconds": 0,
                              "method": "POST", "hang_seconds": 30, "status": 503}
    GET    /_sandbox/faults  the rules still in force, with how often each fired
    DELETE /_sandbox/faults  clear every rule

`match` is a regular expression searched in the request path (a plain word such as
"refunds" matches any path containing it). `count` limits how many calls a rule hits
(0: unlimited); `seconds` limits how long it stays in force (0: until its count is
used up). A rule with neither hits every call until cleared. A "hang" sleeps
`hang_seconds` and then serves the request normally: the gateway did the work, but
the client gave up before the answer came, which is the case idempotency keys exist
for. Sandbox controls (/_sandbox/...) and /health are never faulted.

`SandboxFaults(base_url)` is the same knob from Python, without Django.
"""
from __future__ import annotations

import itertools
import json
import re
import threading
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

MODES = ("hang", "5xx", "429")
DEFAULT_HANG_SECONDS = 30.0  # past Kassa's 10 s provider timeout
EXEMPT = re.compile(r"(^|/)_sandbox(/|$)|^/health$")


@dataclass
class FaultRule:
    id: int
    match: str
    mode: str
    count: int = 0
    seconds: float = 0.0
    method: str = ""
    hang_seconds: float = DEFAULT_HANG_SECONDS
    status: int = 503
    until: float = 0.0            # epoch seconds; 0: no window
    hits: int = 0
    _pattern: re.Pattern = field(default=None, repr=False, compare=False)  # type: ignore[assignment]

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("_pattern", None)
        return data


class FaultBook:
    """The rules in force. Thread-safe: the sandbox serves each request on its own thread."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def add(self, spec: dict[str, Any]) -> FaultRule:
        mode = str(spec.get("mode") or "")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        match = str(spec.get("match") or "")
        pattern = re.compile(match)  # raises re.error on a bad pattern
        count, seconds = int(spec.get("count") or 0), float(spec.get("seconds") or 0)
        if count < 0 or seconds < 0:
            raise ValueError("count and seconds must not be negative")
        status = int(spec.get("status") or (429 if mode == "429" else 503))
        rule = FaultRule(id=next(self._ids), match=match, mode=mode, count=count, seconds=seconds,
                         method=str(spec.get("method") or "").upper(), status=status,
                         hang_seconds=float(spec.get("hang_seconds") or DEFAULT_HANG_SECONDS),
                         until=time.time() + seconds if seconds else 0.0, _pattern=pattern)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            self._prune(time.time())
            return [rule.public() for rule in self._rules]

    def take(self, method: str, path: str) -> FaultRule | None:
        """The first rule that fires for this call (and counts the hit), or None."""
        if EXEMPT.search(path):
            return None
        now = time.time()
        with self._lock:
            self._prune(now)
            for rule in self._rules:
                if rule.method and rule.method != method.upper():
                    continue
                if not rule._pattern.search(path):
                    continue
                rule.hits += 1
                fired = FaultRule(**{**rule.__dict__})
                self._prune(now)
                return fired
        return None

    def _prune(self, now: float) -> None:
        self._rules = [rule for rule in self._rules
                       if not (rule.count and rule.hits >= rule.count) and not (rule.until and now >= rule.until)]


class SandboxFaults:
    """The fault knob over HTTP, for tests and the soak (stdlib only)."""

    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self.url = base_url.rstrip("/") + "/_sandbox/faults"
        self.timeout = timeout

    def _call(self, method: str, body: dict | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url, data=data, method=method,  # noqa: S310 - the sandbox's URL
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
            return json.loads(response.read() or b"null")

    def add(self, match: str, mode: str, *, count: int = 0, seconds: float = 0, method: str = "",
            hang_seconds: float | None = None, status: int | None = None) -> dict:
        spec: dict[str, Any] = {"match": match, "mode": mode, "count": count, "seconds": seconds, "method": method}
        if hang_seconds is not None:
            spec["hang_seconds"] = hang_seconds
        if status is not None:
            spec["status"] = status
        return self._call("POST", spec)

    def list(self) -> list[dict]:
        return self._call("GET")["rules"]

    def clear(self) -> None:
        self._call("DELETE")

    @contextmanager
    def active(self, match: str, mode: str, **kwargs: Any):
        """Apply one rule for the block, then clear every rule."""
        self.add(match, mode, **kwargs)
        try:
            yield self
        finally:
            self.clear()

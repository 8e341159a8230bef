"""The sandbox's HTTP request and response types and its routes, plain dataclasses with no server
behind them, so handler modules and tests build them directly."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

Handler = Callable[["Request"], "Response"]


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive header mapping (last value wins)."""

    def __init__(self, items: Iterable[tuple[str, str]] | Mapping[str, str] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        self._data: dict[str, tuple[str, str]] = {key.lower(): (key, value) for key, value in pairs}

    def __getitem__(self, key: str) -> str:
        return self._data[key.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (original for original, _ in self._data.values())

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._data

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)  # first value of each key
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    route_prefix: str = ""   # the Route.prefix that matched
    subpath: str = ""        # path after route_prefix ("" or "/…")

    def json(self) -> Any:
        """The body as JSON; raises ValueError on an empty or malformed body."""
        if not self.body:
            raise ValueError("empty request body")
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        """An application/x-www-form-urlencoded body (first value of each field)."""
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {key: values[0] for key, values in parsed.items()}

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Response:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
        body = json.dumps(obj, separators=(",", ":")).encode()
        return cls(status, {"Content-Type": "application/json", **(headers or {})}, body)

    @classmethod
    def html(cls, text: str, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
        return cls(status, {"Content-Type": "text/html; charset=utf-8", **(headers or {})}, text.encode())

    @classmethod
    def text(cls, text: str, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
        return cls(status, {"Content-Type": "text/plain; charset=utf-8", **(headers or {})}, text.encode())

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Response:
        return cls(status, {"Location": location}, b"")


@dataclass(frozen=True)
class Route:
    """``method`` is an HTTP verb or ``"*"`` (any); ``prefix`` starts with ``/``."""

    method: str
    prefix: str
    handler: Handler

    def __post_init__(self) -> None:
        if not self.prefix.startswith("/"):
            raise ValueError(f"route prefix must start with '/': {self.prefix!r}")
        object.__setattr__(self, "method", self.method.upper())
        if self.prefix != "/":
            object.__setattr__(self, "prefix", self.prefix.rstrip("/"))

    def matches_path(self, path: str) -> bool:
        if self.prefix == "/":
            return True
        return path == self.prefix or path.startswith(self.prefix + "/")


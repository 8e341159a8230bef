"""The sandbox application: handler modules' routes in one table, dispatched without HTTP.

Adding a service
----------------
Write a module that exposes ``routes(ctx: SandboxContext) -> list[Route]`` and
add its dotted path to ``HANDLER_MODULES`` below::

    # sandbox/razorpay.py
    from sandbox.http_types import Request, Response, Route
    from sandbox.sandbox_app import SandboxContext

    def routes(ctx: SandboxContext) -> list[Route]:
        store = ctx.state_dir / "razorpay.json"          # your own persistence
        def create_order(request: Request) -> Response:
            return Response.json({"id": "order_123"}, status=200)
        return [Route("POST", "/razorpay/v1/orders", create_order)]

Matching: among routes whose ``prefix`` matches the path on a segment boundary
(``/razorpay/v1/orders`` matches ``/razorpay/v1/orders`` and
``/razorpay/v1/orders/order_1/payments``, never ``/razorpay/v1/ordersX``) and
whose method fits (``"*"`` fits any; HEAD falls back to GET), the longest prefix
wins; ``request.subpath`` is the rest (``"/order_1/payments"``). A path that
matches only with other methods gets 405 with ``Allow``, an unknown path 404
(JSON). A handler that raises gets a 500 JSON answer; the server keeps running.
"""
from __future__ import annotations

import importlib
import logging
import re
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sandbox.faults import FaultBook
from sandbox.http_types import Request, Response, Route

logger = logging.getLogger("sandbox")

# Every sandbox service, in one reviewed place. Each module exposes routes(ctx).
HANDLER_MODULES: list[str] = [
    "sandbox.nano_node",
    "sandbox.razorpay_api", "sandbox.coinpay_api",
    "sandbox.partner_api",
    "sandbox.mail",
]


@dataclass
class SandboxContext:
    """What handler modules get: where to persist, how they are reached, shared services.

    ``base_url`` is filled in once the server is bound (read it at request time,
    e.g. to build hosted-checkout or callback URLs). ``services`` lets one sandbox
    module expose an object to another (``ctx.services["nano"]`` is the Nano
    ledger). ``on_close`` registers a flush/cleanup to run at shutdown. ``options`` are
    the process's settings for modules (``"nano_ws": (host, port)`` starts the Nano
    node's websocket).
    """

    state_dir: Path
    base_url: str = ""
    services: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    _closers: list[Callable[[], None]] = field(default_factory=list)

    def on_close(self, fn: Callable[[], None]) -> None:
        self._closers.append(fn)

    def close(self) -> None:
        for fn in reversed(self._closers):
            try:
                fn()
            except Exception:  # noqa: BLE001 - one failing closer must not skip the others
                logger.exception("sandbox closer failed")
        self._closers.clear()


class SandboxApp:
    """A route table plus dispatch. Usable without HTTP: ``app.dispatch(Request(...))``."""

    def __init__(self, ctx: SandboxContext) -> None:
        self.ctx = ctx
        self.routes: list[Route] = []
        self.faults = FaultBook()
        ctx.services["faults"] = self.faults
        self.register([Route("GET", "/health", self._health),
                       Route("GET", "/_sandbox/faults", self._faults), Route("POST", "/_sandbox/faults", self._faults),
                       Route("DELETE", "/_sandbox/faults", self._faults),
                       Route("GET", "/_sandbox/books", self._books)])

    def register(self, routes: Iterable[Route]) -> None:
        for route in routes:
            if any(r.method == route.method and r.prefix == route.prefix for r in self.routes):
                raise ValueError(f"route registered twice: {route.method} {route.prefix}")
            self.routes.append(route)
        # Longest prefix first, so the most specific route wins.
        self.routes.sort(key=lambda r: len(r.prefix), reverse=True)

    def dispatch(self, request: Request) -> Response:
        candidates = [route for route in self.routes if route.matches_path(request.path)]
        if not candidates:
            return Response.json({"error": "not found", "path": request.path}, status=404)
        methods = (request.method, "*", "GET") if request.method == "HEAD" else (request.method, "*")
        # The longest prefix that accepts this method wins; a shorter catch-all still
        # serves methods that a more specific route does not take.
        route = next((r for r in candidates if r.method in methods), None)
        if route is None:
            allowed = ", ".join(sorted({r.method for r in candidates}))
            return Response.json(
                {"error": "method not allowed", "allowed": allowed}, status=405, headers={"Allow": allowed}
            )
        subpath = "" if route.prefix == "/" else request.path[len(route.prefix):]
        request = replace(request, route_prefix=route.prefix, subpath=subpath)
        if (fault := self.faults.take(request.method, request.path)) is not None:
            if fault.mode != "hang":
                return Response.json({"error": {"code": "SERVER_ERROR" if fault.status >= 500 else "RATE_LIMITED",
                                                "description": f"sandbox fault {fault.id}"}},
                                     status=fault.status, headers={"Retry-After": "1"} if fault.status == 429 else None)
            time.sleep(fault.hang_seconds)  # then serve it: the work is done, the client has given up
        try:
            response = route.handler(request)
            if not isinstance(response, Response):
                raise TypeError(f"handler returned {type(response).__name__}, not Response")
            return response
        except Exception as exc:  # noqa: BLE001 - a handler bug must never take the server down
            logger.error(
                "sandbox handler crashed: %s %s\n%s", request.method, request.path, traceback.format_exc()
            )
            return Response.json({"error": "internal sandbox error", "detail": repr(exc)}, status=500)

    def close(self) -> None:
        self.ctx.close()

    def _health(self, request: Request) -> Response:
        return Response.json({"ok": True})

    def _faults(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                self.faults.add(request.json())
            except (ValueError, TypeError, re.error) as exc:
                return Response.json({"error": str(exc)}, status=400)
        elif request.method == "DELETE":
            self.faults.clear()
        return Response.json({"rules": self.faults.rules()})

    def _books(self, request: Request) -> Response:
        """Every payment, refund, transfer and payout the sandbox performed, per service
        (each service with a books() method), for reconciling against Kassa's database."""
        return Response.json({name: service.books() for name, service in sorted(self.ctx.services.items())
                              if callable(getattr(service, "books", None))})


def build_app(
    state_dir: str | Path,
    modules: Iterable[str] | None = None,
    extra_routes: Iterable[Route] = (),
    options: Mapping[str, Any] | None = None,
) -> SandboxApp:
    """Create the state dir, import each handler module and register its routes."""
    path = Path(state_dir)
    path.mkdir(parents=True, exist_ok=True)
    app = SandboxApp(SandboxContext(state_dir=path, options=dict(options or {})))
    for name in HANDLER_MODULES if modules is None else modules:
        module = importlib.import_module(name)
        app.register(module.routes(app.ctx))
    app.register(extra_routes)
    return app

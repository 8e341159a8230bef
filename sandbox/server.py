"""The sandbox HTTP server: one stdlib process that plays every external service.

Kassa runs offline because each provider has a twin here (the Nano node RPC,
Razorpay, CoinPay, partner pages). This module is the framework only: a route
table, small Request/Response dataclasses, and thread/CLI runners. It imports no
Django, so it starts in a plain Python process and inside tests.

Adding a service
----------------
Write a module that exposes ``routes(ctx: SandboxContext) -> list[Route]`` and
add its dotted path to ``HANDLER_MODULES`` below::

    # sandbox/razorpay.py
    from sandbox.server import Request, Response, Route, SandboxContext

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

import argparse
import importlib
import json
import logging
import os
import re
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sandbox.faults import FaultBook

logger = logging.getLogger("sandbox")

# Every sandbox service, in one reviewed place. Each module exposes routes(ctx).
HANDLER_MODULES: list[str] = [
    "sandbox.nano_node",
    "sandbox.razorpay_api", "sandbox.coinpay_api",
    "sandbox.partner_api",
    "sandbox.mail",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7076
DEFAULT_SMTP_PORT = 7025
DEFAULT_STATE_DIR = Path("var/sandbox")
MAX_BODY_BYTES = 64 * 1024 * 1024  # bulk_send seeding of 100k sends is ~10 MB

Handler = Callable[["Request"], "Response"]


# --- request / response ------------------------------------------------------------


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


# --- the application -------------------------------------------------------------


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


# --- HTTP plumbing -----------------------------------------------------------------


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so a requests.Session reuses connections
    server_version = "KassaSandbox/1"
    timeout = 60  # idle keep-alive connections give their thread back
    server: SandboxHTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without NODELAY, Nagle plus delayed
        # ACKs add ~40 ms to every keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._send(Response.json({"error": "request body too large"}, status=413))
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query, keep_blank_values=True).items()}
        request = Request(
            method=self.command,
            path=url.path or "/",
            query=query,
            headers=Headers(self.headers.items()),
            body=body,
        )
        self._send(self.server.app.dispatch(request))

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        headers = {"Content-Type": "application/json", **response.headers}
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        # A keep-alive connection the client left idle for `timeout` s is closed: normal, not an error.
        if format.startswith("Request timed out"):
            return
        super().log_error(format, *args)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.server.log_requests:
            sys.stderr.write(f"sandbox {self.address_string()} {format % args}\n")


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a slow handler (fault "timeout") never blocks shutdown
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: SandboxApp, log_requests: bool = True) -> None:
        super().__init__(address, _RequestHandler)
        self.app = app
        self.log_requests = log_requests
        host, port = self.server_address[:2]
        self.base_url = f"http://{host}:{port}"
        app.ctx.base_url = self.base_url

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out and hang up are normal here (fault injection).
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def stop(self) -> None:
        """Stop serving, close the socket and flush every module's state."""
        self.shutdown()
        self.server_close()
        self.app.close()


def start_in_thread(
    host: str = DEFAULT_HOST,
    port: int = 0,
    state_dir: str | Path | None = None,
    *,
    modules: Iterable[str] | None = None,
    extra_routes: Iterable[Route] = (),
    log_requests: bool = False,
    options: Mapping[str, Any] | None = None,
) -> tuple[SandboxHTTPServer, threading.Thread, str]:
    """For tests: serve in a daemon thread on a free port. Call ``server.stop()`` after.

    Without ``state_dir`` a fresh temporary directory is used.
    """
    path = Path(state_dir) if state_dir is not None else Path(tempfile.mkdtemp(prefix="kassa-sandbox-"))
    app = build_app(path, modules=modules, extra_routes=extra_routes, options=options)
    server = SandboxHTTPServer((host, port), app, log_requests=log_requests)
    # A short poll interval makes stop() quick (shutdown waits for one poll).
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="kassa-sandbox", daemon=True)
    thread.start()
    return server, thread, server.base_url


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    state_dir: str | Path = DEFAULT_STATE_DIR,
    *,
    modules: Iterable[str] | None = None,
    quiet: bool = False,
    nano_ws_port: int | None = None,
    smtp_port: int | None = None,
) -> None:
    """Serve until Ctrl-C or SIGTERM (honcho stops processes with SIGTERM). With
    ``nano_ws_port`` the Nano node's websocket listens there too (sandbox.nano_ws), with
    ``smtp_port`` the mail catcher's SMTP server (sandbox.mail)."""
    options = {}
    if nano_ws_port is not None:
        options["nano_ws"] = (host, nano_ws_port)
    if smtp_port is not None:
        options["smtp"] = (host, smtp_port)
    app = build_app(state_dir, modules=modules, options=options)
    server = SandboxHTTPServer((host, port), app, log_requests=not quiet)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    prefixes = ", ".join(sorted({route.prefix for route in app.routes}))
    print(f"Kassa sandbox on {server.base_url} (state in {app.ctx.state_dir}; routes: {prefixes})", flush=True)
    if (feed := app.ctx.services.get("nano_ws")) is not None:
        print(f"Nano node websocket on {feed.url}", flush=True)
    if "smtp" in app.ctx.services:
        print(f"Mail catcher: SMTP on {host}:{smtp_port}, inbox {server.base_url}/mail/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        app.close()


def _raise_keyboard_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the Kassa sandbox providers.")
    parser.add_argument("--host", default=os.environ.get("SANDBOX_HOST", DEFAULT_HOST))
    parser.add_argument("--port", type=int, default=int(os.environ.get("SANDBOX_PORT", DEFAULT_PORT)))
    parser.add_argument("--state-dir", default=os.environ.get("SANDBOX_STATE_DIR", str(DEFAULT_STATE_DIR)))
    parser.add_argument("--quiet", action="store_true", help="no per-request log lines")
    add_nano_ws_arguments(parser)
    add_smtp_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    ws_port = nano_ws_port(args.port, args.nano_ws_port, args.no_nano_ws)
    serve(args.host, args.port, args.state_dir, quiet=args.quiet, nano_ws_port=ws_port,
          smtp_port=None if args.no_smtp else args.smtp_port)


def add_nano_ws_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nano-ws-port", type=int, default=None,
                        help="the Nano node's websocket port (default: --port + 2, e.g. 7078 as on a real node)")
    parser.add_argument("--no-nano-ws", action="store_true", help="serve no Nano websocket")


def add_smtp_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--smtp-port", type=int, default=int(os.environ.get("SANDBOX_SMTP_PORT", DEFAULT_SMTP_PORT)),
                        help="the mail catcher's SMTP port (default SANDBOX_SMTP_PORT or 7025)")
    parser.add_argument("--no-smtp", action="store_true", help="run no mail catcher")


def nano_ws_port(port: int, requested: int | None, disabled: bool) -> int | None:
    """The websocket port from the arguments above: None when off."""
    if disabled:
        return None
    return requested if requested is not None else port + 2


if __name__ == "__main__":  # python -m sandbox.server
    # Run the importable copy: handler modules import sandbox.server, and
    # classes from this __main__ copy would not be the same Response/Route types.
    from sandbox.server import main as _main

    _main()

"""The sandbox HTTP server: one stdlib process that plays every external service.

Kassa runs offline because each provider has a twin here (the Nano node RPC,
Razorpay, CoinPay, partner pages). The framework imports no Django, so it starts
in a plain Python process and inside tests. Its parts:

- ``sandbox.http_types``: the Request/Response dataclasses, Headers and Route;
- ``sandbox.sandbox_app``: SandboxContext, the route table and dispatch (SandboxApp),
  ``HANDLER_MODULES`` and ``build_app`` (how to add a service is described there);
- ``sandbox.http_server``: the threading HTTP server and ``start_in_thread`` for tests;
- this module: ``serve`` and the command line (``python -m sandbox.server``, also
  behind ``manage.py sandbox serve``). Every name above stays importable from here.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sandbox.http_server import DEFAULT_HOST, MAX_BODY_BYTES, SandboxHTTPServer, _RequestHandler, start_in_thread
from sandbox.http_types import Handler, Headers, Request, Response, Route
from sandbox.sandbox_app import HANDLER_MODULES, SandboxApp, SandboxContext, build_app, logger

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEFAULT_SMTP_PORT",
    "DEFAULT_STATE_DIR",
    "HANDLER_MODULES",
    "MAX_BODY_BYTES",
    "Handler",
    "Headers",
    "Request",
    "Response",
    "Route",
    "SandboxApp",
    "SandboxContext",
    "SandboxHTTPServer",
    "_RequestHandler",
    "add_nano_ws_arguments",
    "add_smtp_arguments",
    "build_app",
    "logger",
    "main",
    "nano_ws_port",
    "serve",
    "start_in_thread",
]

DEFAULT_PORT = 7076
DEFAULT_SMTP_PORT = 7025
DEFAULT_STATE_DIR = Path("var/sandbox")


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
    # No need to import the importable copy first: the classes handler modules use live elsewhere.
    main()

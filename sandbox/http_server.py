"""The sandbox's HTTP plumbing: a threading stdlib server around a SandboxApp, and the runner
tests use to serve one in a thread."""
from __future__ import annotations

import socket
import sys
import tempfile
import threading
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sandbox.http_types import Headers, Request, Response, Route
from sandbox.sandbox_app import SandboxApp, build_app

DEFAULT_HOST = "127.0.0.1"
MAX_BODY_BYTES = 64 * 1024 * 1024  # bulk_send seeding of 100k sends is ~10 MB


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

"""The sellers' webhook receiver during a soak: an HTTP server on a free loopback port that checks each
delivery as a Standard Webhook (the `standardwebhooks` package, with the endpoint's secret) and keeps
the webhook-ids that verified. A delivery that does not verify gets 400 and is counted."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError

from bench.common import free_port


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.secrets: dict[str, str] = {}  # path → the endpoint's secret
        self.verified: set[str] = set()
        self.deliveries = 0
        self.invalid = 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="soak-receiver")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                secret = receiver.secrets.get(self.path)
                try:
                    if secret is None:
                        raise WebhookVerificationError("unknown endpoint")
                    Webhook(secret).verify(body, {key.lower(): value for key, value in self.headers.items()})
                except WebhookVerificationError:
                    with receiver.lock:
                        receiver.deliveries += 1
                        receiver.invalid += 1
                    self.send_response(400)
                else:
                    with receiver.lock:
                        receiver.deliveries += 1
                        receiver.verified.add(self.headers["webhook-id"])
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        return Handler

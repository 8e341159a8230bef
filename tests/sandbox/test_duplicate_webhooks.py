"""The gateway twins deliver a configurable share of their webhooks twice (`duplicate_rate` in
/_sandbox/config), as real gateways deliver at least once; the soak sets 20 %."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sandbox.gateway_common import WebhookSender


def test_each_event_is_delivered_once_more_at_duplicate_rate_one_and_once_at_zero():
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(self.headers["X-Event-Id"])
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    sender = WebhookSender(sign=lambda body: {}, event_id_header="X-Event-Id")
    try:
        sender.send_batch(url, [("evt_a", b"{}"), ("evt_b", b"{}")], duplicate_rate=1.0).join(10)
        assert seen == ["evt_a", "evt_b", "evt_a", "evt_b"]
        seen.clear()
        sender.send_batch(url, [("evt_c", b"{}")]).join(10)
        assert seen == ["evt_c"]
    finally:
        server.shutdown()
        server.server_close()

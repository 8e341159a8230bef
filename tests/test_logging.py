"""One logging configuration: key=value lines from web and worker alike, and no checkout token
in any of them. Both tests run real processes and read their real output."""
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
from django.conf import settings

from tests.factories import OrderFactory
from tests.integration.conftest import free_port

ROOT = Path(__file__).resolve().parents[1]


def _database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    return f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _env(**extra) -> dict:
    return {**os.environ, "DATABASE_URL": _database_url(), "DEBUG": "true", "SANDBOX_MODE": "true",
            "LOG_LEVEL": "INFO", **extra}


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_checkout_tokens_never_reach_a_real_servers_log():
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") and \
            not settings.DATABASES["default"].get("TEST", {}).get("NAME"):
        pytest.skip("the server process needs a file database: SQLITE_TEST_NAME=var/test.sqlite3 or PostgreSQL")
    order = OrderFactory()
    token = order.checkout_token
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--log-level", "warning"],  # as the Procfile runs it
        cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                requests.get(f"{base}/healthz", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        paths = [f"/checkout/{token}/", f"/checkout/{token}/status/", f"/checkout/{token}/done/",
                 f"/checkout/{token}/pay/bitcoin/", f"/checkout/{token}x/"]
        statuses = [requests.get(base + path, timeout=10).status_code for path in paths]
        assert statuses[0] == 200 and statuses[-1] == 404
    finally:
        server.terminate()
        output = server.communicate(timeout=20)[0].decode()
    assert output.count("request") >= len(paths), output
    assert f"path=/checkout/{token[:6]}…/status/" in output, output
    assert token not in output and token[6:20] not in output, output


@pytest.mark.parametrize("text,expected", [
    ("path=/checkout/abcdefGHIJKLmnop/pay/razorpay/callback/", "path=/checkout/abcdef…/pay/razorpay/callback/"),
    ("<WSGIRequest: GET '/checkout/abcdefGHIJKL/'>", "<WSGIRequest: GET '/checkout/abcdef…/'>"),
    ("Not Found: /checkout/abcdefGHIJKL?x=1", "Not Found: /checkout/abcdef…?x=1"),
    ("path=/checkout/abc/", "path=/checkout/abc/"),  # too short to be a token: nothing to hide
    ("path=/dashboard/orders/", "path=/dashboard/orders/"),
])
def test_redact(text, expected):
    from config.logging import redact

    assert redact(text) == expected


class _GatewayStub(http.server.BaseHTTPRequestHandler):
    """Answers every call like Razorpay's "payments of an order" with none."""

    seen: list = []

    def do_GET(self):  # noqa: N802 - http.server's naming
        body = json.dumps({"entity": "collection", "count": 0, "items": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.seen.append(self.path)

    def log_message(self, *args):
        pass


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_real_workers_provider_call_line_keeps_its_fields(tmp_path):
    """Celery used to replace the root logger's handler with its own format, so the worker's
    `provider call` line lost provider=… status=… ms=…. Now the worker logs like the web."""
    from config.celery_app import app
    from payments.tasks import monitor_pending_payments
    from tests.factories import GatewayPaymentFactory

    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") and \
            not settings.DATABASES["default"].get("TEST", {}).get("NAME"):
        pytest.skip("the worker process needs a file database: SQLITE_TEST_NAME=var/test.sqlite3 or PostgreSQL")
    stub = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _GatewayStub)
    threading.Thread(target=stub.serve_forever, daemon=True).start()
    GatewayPaymentFactory(provider_ref="order_Logged0000001")
    queue = f"kassa-test-{uuid.uuid4().hex[:8]}"
    env = _env(REDIS_URL=settings.REDIS_URL or "", VAR_DIR=str(settings.VAR_DIR),
               RAZORPAY_API_URL=f"http://127.0.0.1:{stub.server_port}", GATEWAY_POLL_AFTER_MINUTES="0")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "--pool", "solo",
         "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    app.conf.task_always_eager = False
    try:
        monitor_pending_payments.apply_async(queue=queue)
        deadline = time.monotonic() + 60
        while not _GatewayStub.seen and time.monotonic() < deadline:
            time.sleep(0.25)
        assert _GatewayStub.seen, "the worker never called the gateway"
        time.sleep(1)  # the log line follows the answer
    finally:
        app.conf.task_always_eager = True
        worker.terminate()
        output = worker.communicate(timeout=30)[0].decode()
        stub.shutdown()
    lines = [line for line in output.splitlines() if "provider call" in line]
    assert lines, output
    fields = dict(part.split("=", 1) for part in lines[0].split() if "=" in part)
    assert fields["provider"] == "razorpay" and fields["status"] == "200" and float(fields["ms"]) >= 0, lines[0]
    assert fields["task"] == "payments.tasks.monitor_pending_payments" and fields["task_id"], lines[0]
    assert lines[0].split()[2] == "INFO"  # the same "<date> <time> LEVEL logger message key=value" shape

"""The sandbox providers as a real separate process, on a free port.

`sandbox_process` (session) starts `manage.py sandbox serve` and points every
provider URL at it; `gateway_sandbox` also sets gateway credentials and points
the sandbox's webhooks at pytest-django's live_server.
"""
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from payments.providers.registry import reset_providers

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sandbox(state_dir, env=None) -> tuple[subprocess.Popen, str]:
    """`manage.py sandbox serve` as a real process on a free port; returns it once /health answers.
    Its Nano websocket and mail catcher are on other free ports: `process.nano_ws_url`, `process.smtp_port`."""
    port, ws_port, smtp_port = free_port(), free_port(), free_port()
    env = {**(os.environ if env is None else env), "SANDBOX_MODE": "true"}  # the only mode with the sandbox app
    process = subprocess.Popen(
        [sys.executable, "manage.py", "sandbox", "serve", "--port", str(port), "--nano-ws-port", str(ws_port),
         "--smtp-port", str(smtp_port), "--quiet", "--state-dir", str(state_dir)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    process.nano_ws_url = f"ws://127.0.0.1:{ws_port}"
    process.smtp_port = smtp_port
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if requests.get(f"{url}/health", timeout=0.5).ok:
                return process, url
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"sandbox did not start: {process.stderr.read().decode()[-2000:]}")


def _shares_database_across_threads() -> bool:
    from django.conf import settings as django_settings

    db = django_settings.DATABASES["default"]
    return not db["ENGINE"].endswith("sqlite3") or bool(db.get("TEST", {}).get("NAME"))


@pytest.fixture
def gateway_sandbox(sandbox_process, live_server, settings):
    """Kassa ↔ sandbox wired both ways; returns the sandbox base URL."""
    if not _shares_database_across_threads():
        # live_server shares ONE in-memory SQLite connection between threads; webhooks arrive
        # concurrently with the test's own queries, which that connection cannot take.
        pytest.skip("needs PostgreSQL (DATABASE_URL) or a file SQLite test DB (SQLITE_TEST_NAME=var/test.sqlite3)")
    url = sandbox_process
    settings.RAZORPAY_API_URL = f"{url}/razorpay"
    settings.RAZORPAY_CHECKOUT_URL = f"{url}/razorpay/checkout"
    settings.COINPAY_API_URL = f"{url}/coinpay"
    settings.RAZORPAY_KEY_ID, settings.RAZORPAY_KEY_SECRET = "rzp_test_sandbox", "sandbox_key_secret"
    settings.RAZORPAY_WEBHOOK_SECRET = "sandbox_webhook_secret"
    settings.COINPAY_USERNAME, settings.COINPAY_PASSWORD = "sandbox", "sandbox-password"
    settings.COINPAY_WEBHOOK_SECRET = "sandbox_coinpay_secret"
    settings.SITE_URL = live_server.url
    settings.SANDBOX_URL = url
    requests.post(f"{url}/razorpay/_sandbox/config", json={
        "webhook_url": f"{live_server.url}/webhooks/razorpay/", "auto_capture": True, "refund_status": "pending"})
    requests.post(f"{url}/coinpay/_sandbox/config", json={"webhook_url": f"{live_server.url}/webhooks/coinpay/"})
    reset_providers()
    yield url
    reset_providers()


@contextlib.contextmanager
def listeners_running():
    """Yields run(listener, wait=True): runs a ConfirmationListener on a thread (by default
    until the node acknowledged its subscription). All are stopped and joined on exit."""
    running = []

    def run(listener, wait: bool = True):
        stop = threading.Event()
        thread = threading.Thread(target=listener.run, args=(stop,), daemon=True)
        thread.start()
        running.append((stop, thread))
        if wait:
            assert listener.subscribed.wait(10), "the node's websocket never acknowledged the subscription"
        return listener

    try:
        yield run
    finally:
        for stop, thread in running:
            stop.set()
            thread.join(10)
    assert not any(thread.is_alive() for _stop, thread in running)


@pytest.fixture
def nano_listener(sandbox_process, settings):
    """Start `nano_listen`'s listener on a thread, following the sandbox node's websocket
    (fast refresh and batching); it is stopped after the test."""
    from payments.nano_listener import ConfirmationListener

    with listeners_running() as run:
        yield lambda: run(ConfirmationListener(settings.NANO_WS_URL, refresh_seconds=0.2, batch_seconds=0.05))


def wait_for(predicate, timeout: float = 15.0, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {message}")

"""One logging configuration: key=value lines from web and worker alike, and no checkout token
in any of them. Both tests run real processes and read their real output."""
import os
import subprocess
import sys
import time
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

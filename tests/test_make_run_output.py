"""`make run`'s output says only what helps: no kombu noise, no tick results at info, and a demo key
that works (a revoked one is replaced, never printed as if it worked)."""
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

ROOT = Path(__file__).resolve().parents[1]


def test_no_kombu_hostname_warning_with_the_filesystem_broker(tmp_path):
    code = ("from config.celery_app import app; c = app.connection_for_write(); c.clone(); print(c.as_uri())")
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(VAR_DIR=str(tmp_path), DEBUG="true", SANDBOX_MODE="true")
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "filesystem://" in result.stdout
    assert "No hostname was supplied" not in result.stderr + result.stdout


@pytest.mark.django_db
def test_monitor_tick_result_is_logged_at_debug_not_info(caplog, monkeypatch):
    from payments import monitor
    from payments.tasks import monitor_pending_payments

    monkeypatch.setattr(monitor, "METHOD_TICKS", {"nano": "tests.test_make_run_output.quiet_tick"})
    with caplog.at_level(logging.DEBUG, logger="kassa"):
        result = monitor_pending_payments()
    tick_lines = [r for r in caplog.records if r.getMessage() == "monitor tick"]
    assert tick_lines and all(r.levelno == logging.DEBUG for r in tick_lines)
    assert result is None  # Celery logs a task's return value at INFO on every run


def quiet_tick():
    return {"addresses": 0, "rpc_calls": 0}


@pytest.mark.django_db
def test_a_revoked_demo_key_is_replaced_not_printed_as_working(capsys):
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from sellers.api_auth import ApiKeyAuthentication
    from sellers.models import ApiKey

    call_command("seed_demo", "--orders", "3")
    first = {line.split()[1]: line.split()[2] for line in capsys.readouterr().out.splitlines()
             if line.startswith("api-key:")}
    ApiKey.objects.filter(prefix=first["asha-prints"][:16]).update(revoked_at=timezone.now())
    call_command("seed_demo", "--orders", "3")
    out = capsys.readouterr().out
    second = {line.split()[1]: line.split()[2] for line in out.splitlines() if line.startswith("api-key:")}
    assert second["nordic-knits"] == first["nordic-knits"]
    assert second["asha-prints"] != first["asha-prints"]
    assert "revoked" in out  # says why the key changed
    request = APIRequestFactory().get("/api/v1/orders/", HTTP_AUTHORIZATION=f"Bearer {second['asha-prints']}")
    _, key = ApiKeyAuthentication().authenticate(Request(request))
    assert key.seller.slug == "asha-prints"
    keys = ApiKey.objects.count()
    call_command("seed_demo", "--orders", "3")  # stable from now on: no new key per run
    assert capsys.readouterr().out == out and ApiKey.objects.count() == keys


@pytest.mark.django_db
def test_banner_waits_for_the_web_process_then_prints_the_logins(capsys):
    import http.server
    import threading

    from sellers.models import ApiKey

    call_command("seed_demo", "--orders", "3")
    seeded = [line for line in capsys.readouterr().out.splitlines() if line.startswith(("login:", "api-key:"))]
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    web.RequestHandlerClass.log_message = lambda *a: None
    threading.Thread(target=web.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{web.server_port}/healthz"
    try:
        call_command("demo_banner", wait_url=url, timeout=10)
        banner = capsys.readouterr().out
        assert "Kassa is up" in banner
        for line in seeded:
            assert line in banner
        ApiKey.objects.update(revoked_at=timezone.now())
        call_command("demo_banner", wait_url=url, timeout=10)
        assert "api-key: asha-prints none (revoked" in capsys.readouterr().out
    finally:
        web.shutdown()
        web.server_close()


def test_make_runs_supervisord_config_prints_the_banner_once(tmp_path):
    subprocess.run(["make", "--no-print-directory", "-s", "supervisor-conf", f"RUN_DIR={tmp_path}"], cwd=ROOT,
                   check=True, env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})
    conf = (tmp_path / "kassa.conf").read_text()
    banner = conf.split("[program:banner]")[1].split("[program:")[0]
    assert "manage.py demo_banner" in banner and "autorestart=false" in banner

"""Settings, health and demo data."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[1]


def run_check(env_overrides):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    env.update(env_overrides)
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)


def test_debug_false_without_secret_key_refuses_to_start():
    result = run_check({"DEBUG": "false"})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


STRONG_KEY = "test-only-Kq3vX9mZ2rT8wLp5nB7cY4hJ6dF1sG0aQeRuIoPzXcVbNm"
PROVIDER_SECRETS = {"RAZORPAY_KEY_ID": "rzp_live_x", "RAZORPAY_KEY_SECRET": "live-secret",
                    "RAZORPAY_WEBHOOK_SECRET": "live-whsec", "COINPAY_USERNAME": "live",
                    "COINPAY_PASSWORD": "live-password", "COINPAY_WEBHOOK_SECRET": "live-cp-secret"}


def test_debug_false_with_secret_key_starts():
    result = run_check({"DEBUG": "false", "SECRET_KEY": STRONG_KEY, "SANDBOX_MODE": "true"})
    assert result.returncode == 0, result.stderr


def test_production_without_provider_secrets_refuses_to_start():
    result = run_check({"DEBUG": "false", "SECRET_KEY": STRONG_KEY, "SANDBOX_MODE": "false"})
    assert result.returncode != 0 and "Missing provider secrets" in result.stderr


# --- fail closed: nothing in the environment means production, never the sandbox -----------------

SHOW_SETTINGS = ("from django.conf import settings as s; import json; print(json.dumps({n: getattr(s, n) for n in "
                 "('DEBUG', 'SANDBOX_MODE', 'RAZORPAY_KEY_SECRET', 'RAZORPAY_WEBHOOK_SECRET', 'COINPAY_PASSWORD', "
                 "'COINPAY_WEBHOOK_SECRET', 'PARTNER_API_KEY', 'PARTNER_VERIFY_URL')}))")


def run_bare(env: dict, *args: str) -> subprocess.CompletedProcess:
    """manage.py with nothing in its environment but `env` (no inherited DEBUG or SANDBOX_MODE)."""
    return subprocess.run([sys.executable, "manage.py", *(args or ("shell", "-c", SHOW_SETTINGS))], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


def shown_settings(result) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_an_empty_environment_refuses_to_start():
    result = run_bare({})
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_an_empty_environment_with_a_key_refuses_the_sandbox_secrets():
    result = run_bare({"SECRET_KEY": STRONG_KEY})
    assert result.returncode != 0
    assert "Missing provider secrets" in result.stderr


def test_production_defaults_use_only_the_given_secrets():
    shown = shown_settings(run_bare({"SECRET_KEY": STRONG_KEY, **PROVIDER_SECRETS}))
    assert shown["DEBUG"] is False and shown["SANDBOX_MODE"] is False
    assert shown["RAZORPAY_KEY_SECRET"] == "live-secret" and shown["COINPAY_PASSWORD"] == "live-password"
    assert shown["PARTNER_API_KEY"] == "" and shown["PARTNER_VERIFY_URL"] == ""


def test_debug_alone_does_not_switch_the_sandbox_on():
    shown = shown_settings(run_bare({"DEBUG": "true"}))
    assert shown["DEBUG"] is True and shown["SANDBOX_MODE"] is False
    assert {shown[name] for name in ("RAZORPAY_KEY_SECRET", "RAZORPAY_WEBHOOK_SECRET", "COINPAY_PASSWORD",
                                     "COINPAY_WEBHOOK_SECRET", "PARTNER_API_KEY")} == {""}


def test_sandbox_secrets_only_with_sandbox_mode():
    shown = shown_settings(run_bare({"DEBUG": "true", "SANDBOX_MODE": "true"}))
    assert shown["SANDBOX_MODE"] is True and shown["RAZORPAY_KEY_SECRET"] == "sandbox_key_secret"


@pytest.mark.parametrize("weak", ["x" * 50, "ab" * 40, "Kq3vX9mZ2rT8wLp5nB7cY4hJ6dF1sG0aQeRuIoPzXcVbN"])
def test_a_weak_secret_key_refuses_to_start_in_production(weak):
    result = run_bare({"SECRET_KEY": weak, "SANDBOX_MODE": "true"})
    assert result.returncode != 0
    assert "SECRET_KEY is too weak" in result.stderr


def test_check_deploy_warns_that_sandbox_mode_is_on():
    env = {"SECRET_KEY": STRONG_KEY, "SANDBOX_MODE": "true"}
    result = run_bare(env, "check", "--deploy")
    assert "kassa.W001" in result.stderr + result.stdout
    quiet = run_bare({"SECRET_KEY": STRONG_KEY, **PROVIDER_SECRETS}, "check", "--deploy")
    assert "kassa.W001" not in quiet.stderr + quiet.stdout


def test_sandbox_mode_without_debug_keeps_the_ssrf_guard(settings):
    from django.core.exceptions import ValidationError

    from sellers.validators import validate_webhook_url

    settings.DEBUG, settings.SANDBOX_MODE = False, True
    with pytest.raises(ValidationError):
        validate_webhook_url("http://127.0.0.1:9000/hook")


@pytest.mark.django_db
def test_healthz_reports_each_dependency(client):
    response = client.get("/healthz")
    body = response.json()
    assert set(body) >= {"status", "database", "cache", "broker"}
    assert body["database"]["ok"] and body["cache"]["ok"]
    assert response.status_code == (200 if body["broker"]["ok"] else 503)


@pytest.mark.django_db
def test_healthz_degraded_when_database_fails(client, monkeypatch):
    import config.views

    monkeypatch.setattr(config.views, "_database", lambda: (_ for _ in ()).throw(RuntimeError("down")))
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["database"] == {"ok": False, "error": "RuntimeError"}


@pytest.mark.django_db
def test_seed_demo_is_idempotent(capsys):
    from orders.models import Order, Product
    from payments.models import LedgerEntry, Payment
    from sellers.models import ApiKey, Seller

    def counts():
        return [m.objects.count() for m in (Seller, Product, Order, Payment, LedgerEntry, ApiKey)]

    call_command("seed_demo", "--orders", "40")
    first_output = capsys.readouterr().out
    first = counts()
    call_command("seed_demo", "--orders", "40")
    assert counts() == first
    assert capsys.readouterr().out == first_output, "the same logins and keys are printed again"
    lines = first_output.splitlines()
    assert any(line.startswith("login: staff ") for line in lines)
    assert sum(line.startswith("login: seller:") for line in lines) == 2
    assert sum(line.startswith("api-key: ") for line in lines) == 2
    assert set(Order.objects.values_list("status", flat=True)) >= {
        "open", "paid", "fulfilled", "expired", "cancelled", "refunded", "partially_refunded"}
    assert set(Payment.objects.values_list("method", flat=True)) == {"nano", "razorpay", "coinpay"}


@pytest.mark.django_db
def test_seeded_api_key_authenticates(client, capsys):
    call_command("seed_demo", "--orders", "5")
    key = next(line.split()[2] for line in capsys.readouterr().out.splitlines() if line.startswith("api-key:"))
    from rest_framework.test import APIRequestFactory

    from sellers.api_auth import ApiKeyAuthentication

    request = APIRequestFactory().get("/api/v1/orders/", HTTP_AUTHORIZATION=f"Bearer {key}")
    from rest_framework.request import Request

    user, api_key = ApiKeyAuthentication().authenticate(Request(request))
    assert api_key.seller.slug in ("asha-prints", "nordic-knits")


def test_the_filesystem_broker_keeps_every_folder_under_var():
    """Without Redis, `make run`'s worker must not write kombu's folders into the checkout."""
    code = ("from django.conf import settings; import json; "
            "print(json.dumps([settings.VAR_DIR.as_posix(), settings.CELERY_BROKER_TRANSPORT_OPTIONS]))")
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    var_dir, options = json.loads(result.stdout.strip().splitlines()[-1])
    folders = {name: value for name, value in options.items() if name.endswith("_folder") or "folder_" in name}
    assert set(folders) >= {"data_folder_in", "data_folder_out", "control_folder", "processed_folder"}
    assert all(Path(value).as_posix().startswith(var_dir) for value in folders.values())


# --- production static files: a missing collectstatic shows in /healthz, not as 500s on every page ---

MANIFEST_STORAGE = {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
                    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}}


@pytest.mark.django_db
def test_healthz_reports_missing_collectstatic(client, settings, tmp_path):
    settings.STORAGES, settings.STATIC_ROOT = MANIFEST_STORAGE, tmp_path  # DEBUG=false, no collectstatic
    response = client.get("/healthz")
    assert response.status_code == 503
    static = response.json()["static"]
    assert static["ok"] is False and "collectstatic" in static["reason"]


@pytest.mark.django_db
def test_healthz_static_ok_after_collectstatic(client, settings, tmp_path):
    (tmp_path / "staticfiles.json").write_text(json.dumps(
        {"paths": {"css/kassa.css": "css/kassa.0123456789ab.css"}, "version": "1.1", "hash": "0123456789ab"}))
    settings.STORAGES, settings.STATIC_ROOT = MANIFEST_STORAGE, tmp_path
    assert client.get("/healthz").json()["static"]["ok"] is True


def test_check_deploy_warns_about_a_missing_manifest(settings, tmp_path):
    from config.checks import static_manifest_present

    settings.STORAGES, settings.STATIC_ROOT = MANIFEST_STORAGE, tmp_path
    assert [warning.id for warning in static_manifest_present(None)] == ["kassa.W002"]
    (tmp_path / "staticfiles.json").write_text(json.dumps({"paths": {}, "version": "1.1", "hash": ""}))
    assert static_manifest_present(None) == []


@pytest.mark.django_db
def test_healthz_answers_plain_http_behind_the_ssl_redirect(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/accounts/login/").status_code == 301  # everything else is redirected to https
    assert client.get("/healthz").status_code in (200, 503)


# --- /healthz and the Nano node ---------------------------------------------------------------


@pytest.fixture
def nano_node(settings, tmp_path):
    from payments.providers.nano_rpc import NanoRpcClient
    from sandbox.server import start_in_thread

    server, _thread, base_url = start_in_thread(state_dir=tmp_path)
    settings.NANO_RPC_URL = f"{base_url}/nano"
    yield NanoRpcClient(settings.NANO_RPC_URL, retries=0)
    server.stop()


@pytest.mark.django_db
def test_healthz_reports_the_nano_node_version(client, nano_node):
    nano_node.call("sandbox_version", node_vendor="Nano V23.3")
    nano = client.get("/healthz").json()["nano"]
    assert nano["ok"] is True and nano["node_vendor"] == "Nano V23.3"
    assert nano["receivable_action"] == "accounts_pending"


@pytest.mark.django_db
def test_healthz_is_degraded_by_an_unsupported_nano_node(client, nano_node):
    nano_node.call("sandbox_version", node_vendor="Nano V22.1")
    response = client.get("/healthz")
    nano = response.json()["nano"]
    assert response.status_code == 503 and response.json()["status"] == "degraded"
    assert nano["ok"] is False and "needs the Nano node V23.0 or newer" in nano["reason"]


@pytest.mark.django_db
def test_an_unreachable_nano_node_is_reported_quickly_without_failing_healthz(client, settings, monkeypatch):
    import time

    import config.views

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)  # accepts connections but never answers: the slow case, not a refused port
    settings.NANO_RPC_URL = f"http://127.0.0.1:{listener.getsockname()[1]}/nano"
    monkeypatch.setattr(config.views, "NANO_HEALTH_TIMEOUT", 0.3)
    monkeypatch.setattr(config.views, "_broker", lambda: {})  # only the node is under test here
    try:
        started = time.monotonic()
        response = client.get("/healthz")
        elapsed = time.monotonic() - started
    finally:
        listener.close()
    nano = response.json()["nano"]
    assert nano["ok"] is False and nano["optional"] is True
    assert response.status_code == 200 and elapsed < 2

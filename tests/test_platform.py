"""Settings, health and demo data."""
import json
import os
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


def test_debug_false_with_secret_key_starts():
    result = run_check({"DEBUG": "false", "SECRET_KEY": "x" * 50, "SANDBOX_MODE": "true"})
    assert result.returncode == 0, result.stderr


def test_production_without_provider_secrets_refuses_to_start():
    result = run_check({"DEBUG": "false", "SECRET_KEY": "x" * 50, "SANDBOX_MODE": "false"})
    assert result.returncode != 0 and "Missing provider secrets" in result.stderr


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

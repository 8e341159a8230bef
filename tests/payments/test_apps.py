"""No silent fallbacks on money paths: a provider or monitor module that cannot be imported
stops Django from starting (web, worker and beat alike) instead of quietly dropping a method."""
import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError

import payments.monitor
from payments.providers import registry


@pytest.fixture(autouse=True)
def fresh_registry():
    registry.reset_providers()
    yield
    registry.reset_providers()


def test_startup_loads_every_provider_and_monitor_tick():
    apps.get_app_config("payments").ready()  # the real configuration loads cleanly


def test_startup_refuses_a_missing_provider_module(monkeypatch):
    monkeypatch.setitem(registry.PROVIDER_CLASSES, "razorpay", "payments.providers.not_there.RazorpayProvider")
    with pytest.raises(ImproperlyConfigured, match="razorpay"):
        apps.get_app_config("payments").ready()


def test_startup_refuses_a_missing_provider_class(monkeypatch):
    monkeypatch.setitem(registry.PROVIDER_CLASSES, "coinpay", "payments.providers.coinpay.NoSuchProvider")
    with pytest.raises(ImproperlyConfigured, match="coinpay"):
        apps.get_app_config("payments").ready()


def test_startup_refuses_a_missing_monitor_tick(monkeypatch):
    monkeypatch.setitem(payments.monitor.METHOD_TICKS, "nano", "payments.monitor_nano.no_such_tick")
    with pytest.raises(ImproperlyConfigured, match="nano"):
        apps.get_app_config("payments").ready()


@pytest.mark.django_db
def test_monitor_tick_does_not_skip_a_method_whose_module_is_broken(monkeypatch):
    """It used to `continue` past ImportError/AttributeError: that method was silently not monitored."""
    monkeypatch.setattr(payments.monitor, "METHOD_TICKS", {"nano": "payments.monitor_nano.no_such_tick"})
    with pytest.raises(ImportError):
        payments.monitor.monitor_tick()


RAN = []


def database_lost_tick():
    RAN.append("nano")
    raise OperationalError("terminating connection due to administrator command")


def gateway_tick():
    RAN.append("razorpay")
    return {"polled": 0}


def test_a_method_whose_tick_breaks_does_not_stop_the_others_and_the_task_still_fails(monkeypatch):
    """An error that is not the provider's (the database lost, a bug) in the Nano tick used to end
    monitor_tick there: Razorpay and CoinPay went unchecked for that tick. The others now run, and
    the error is raised after them, so the task still fails where it can be seen."""
    RAN.clear()
    monkeypatch.setattr(payments.monitor, "METHOD_TICKS", {
        "nano": f"{__name__}.database_lost_tick", "razorpay": f"{__name__}.gateway_tick"})
    with pytest.raises(OperationalError):
        payments.monitor.monitor_tick()
    assert RAN == ["nano", "razorpay"]

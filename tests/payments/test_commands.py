from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.factories import PaymentFactory


@pytest.mark.django_db
def test_expire_payments_once(capsys):
    payment = PaymentFactory(expires_at=timezone.now() - timedelta(hours=2))
    call_command("expire_payments", "--once")
    payment.refresh_from_db()
    assert payment.status == "expired"
    assert "expired=1" in capsys.readouterr().out


@pytest.mark.django_db
def test_monitor_payments_once_prints_a_summary(capsys, monkeypatch):
    import payments.monitor

    monkeypatch.setattr(payments.monitor, "METHOD_TICKS", {"fake": "tests.payments.test_commands.fake_tick"})
    call_command("monitor_payments", "--once")
    assert '"fake": {"checked": 0}' in capsys.readouterr().out


def fake_tick():
    return {"checked": 0}

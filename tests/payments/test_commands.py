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


@pytest.mark.parametrize(("args", "message"), [
    (["--url", "http://127.0.0.1:7076/nano"], "not a ws:// or wss:// URL"),
    (["--url", "ws://127.0.0.1:7078", "--refresh", "0"], "--refresh must be a positive"),
])
def test_nano_listen_refuses_bad_settings_with_a_clear_message(args, message):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=message):
        call_command("nano_listen", *args)


def test_nano_listen_follows_the_configured_url(settings, monkeypatch, capsys):
    from payments import nano_listener

    followed = []
    monkeypatch.setattr(nano_listener.ConfirmationListener, "run",
                        lambda self, stop: followed.append((self.url, self.refresh_seconds)))
    settings.NANO_WS_URL, settings.NANO_WS_REFRESH_SECONDS = "ws://node.internal:7078", 2.5
    call_command("nano_listen")
    assert followed == [("ws://node.internal:7078", 2.5)]
    assert "Following ws://node.internal:7078" in capsys.readouterr().out

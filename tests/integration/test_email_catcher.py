"""Email through the real SMTP catcher of a `manage.py sandbox serve` process.

Pay in the sandbox and the receipt arrives with the order reference; and the crash case: a
worker that dies after the SMTP send but before marking the row sent leaves a message that the
sweep sends again under the same Message-ID, which the catcher keeps once (at-least-once,
deduplicated by Message-ID: the guarantee README "Email" states)."""
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from notifications import services as email_services
from notifications.models import OutboxEmail
from notifications.services import SENDING_LEASE, outbox_send, outbox_sweep, queue_email
from orders.actors import Actor
from payments.monitor import monitor_tick
from payments.sandbox_client import simulate_payment
from payments.services import payment_start
from tests.factories import OrderFactory, PayoutDestinationFactory, SellerFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def catcher(sandbox_process, settings):
    """Kassa's email goes to the sandbox process's SMTP catcher; returns the messages.json URL."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", settings.SANDBOX_SMTP_PORT
    settings.EMAIL_USE_TLS = False
    settings.SANDBOX_MODE = True
    requests.post(f"{sandbox_process}/mail/_clear", timeout=5)
    return f"{sandbox_process}/mail/messages.json"


def test_paying_in_the_sandbox_sends_the_receipt_to_the_catcher(catcher, django_capture_on_commit_callbacks):
    seller = SellerFactory(name="Asha Prints")
    PayoutDestinationFactory(seller=seller, method="nano")
    order = OrderFactory(seller=seller, reference="ASHA-7781", customer_email="shopper@example.com")
    payment = payment_start(order_id=order.pk, method="nano", actor=Actor.shopper())
    simulate_payment(payment)
    with django_capture_on_commit_callbacks(execute=True):
        monitor_tick(("nano",))
    receipt = OutboxEmail.objects.get(kind="receipt")
    assert receipt.status == "sent"
    [message] = [m for m in requests.get(catcher, timeout=5).json() if m["subject"] == receipt.subject]
    assert message["to"] == ["shopper@example.com"]
    assert "ASHA-7781" in message["subject"] and "ASHA-7781" in message["text"] and "ASHA-7781" in message["html"]
    assert message["message_id"] == receipt.message_id


class WorkerKilled(BaseException):
    """Stands in for SIGKILL between the SMTP send and the UPDATE that marks the row sent."""


def test_a_worker_killed_after_the_smtp_send_leaves_one_message_in_the_catcher(catcher, monkeypatch):
    email = queue_email(kind="receipt", key="receipt:payment:crash-test", to=["shopper@example.com"],
                        subject="Crash test receipt", template="notice", context={"heading": "Receipt"})

    def killed(_email):
        raise WorkerKilled

    monkeypatch.setattr(email_services, "_mark_sent", killed)
    with pytest.raises(WorkerKilled):
        outbox_send(email_id=email.pk)
    monkeypatch.undo()
    email.refresh_from_db()
    assert email.status == "sending"  # the SMTP server has it; our row does not know
    assert [m["subject"] for m in requests.get(catcher, timeout=5).json()] == ["Crash test receipt"]

    assert outbox_sweep() == 0  # within the lease the dead worker might still finish
    assert outbox_sweep(now=timezone.now() + SENDING_LEASE + timedelta(seconds=1)) == 1
    email.refresh_from_db()
    assert email.status == "sent" and email.attempts == 2
    [message] = requests.get(catcher, timeout=5).json()
    assert message["message_id"] == email.message_id and message["deliveries"] == 2


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sigkilled_after_the_smtp_send_leaves_one_message(catcher, settings):
    """The same crash with a real Celery worker process, killed by SIGKILL at that point."""
    import os
    import subprocess
    import sys
    import uuid

    from config.celery_app import app
    from notifications.services import email_render
    from tests.integration.conftest import ROOT

    text, html = email_render("notice", {"heading": "Receipt"})
    email = OutboxEmail.objects.create(kind="receipt", key="receipt:payment:sigkill", to=["shopper@example.com"],
                                       subject="SIGKILL test receipt", text=text, html=html)
    db = settings.DATABASES["default"]
    queue = f"kassa-mail-crash-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "REDIS_URL": settings.REDIS_URL,
           "DATABASE_URL": f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
                           f"/{db['NAME']}",
           "EMAIL_URL": f"smtp://127.0.0.1:{settings.SANDBOX_SMTP_PORT}"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tests.integration.crashing_worker", "worker", "-Q", queue,
         "--pool", "solo", "--without-gossip", "--without-mingle", "--loglevel", "WARNING"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    app.conf.task_always_eager = False
    try:
        app.tasks["notifications.tasks.send_email"].apply_async(args=[email.pk], queue=queue)
        assert worker.wait(60) == -9, "the worker should have been SIGKILLed after the SMTP send"
    finally:
        app.conf.task_always_eager = True
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
    email.refresh_from_db()
    assert email.status == "sending" and email.attempts == 1
    assert [m["subject"] for m in requests.get(catcher, timeout=5).json()] == ["SIGKILL test receipt"]

    assert outbox_sweep(now=timezone.now() + SENDING_LEASE + timedelta(seconds=1)) == 1
    email.refresh_from_db()
    assert email.status == "sent"
    [message] = requests.get(catcher, timeout=5).json()
    assert message["message_id"] == email.message_id and message["deliveries"] == 2

"""Beat's ticks cannot be starved by deliveries: the Procfile's `ticks` worker serves their own queue.

The delivery worker is stopped (SIGSTOP: the extreme of "busy with deliveries") and 1,000 deliveries
are queued behind it; the monitor tick, sent exactly as beat sends it, still completes a paid Nano
payment within two monitor intervals."""
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from config.celery_app import BATCH_JOBS, BEAT_SCHEDULE, TICKS_QUEUE, app
from orders.actors import Actor
from payments.models import Payment
from payments.sandbox_client import simulate_payment
from payments.services import payment_start
from tests.factories import OrderFactory, PayoutDestinationFactory, SellerFactory
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import new_webhook_secret

ROOT = Path(__file__).resolve().parents[2]
MONITOR = BEAT_SCHEDULE["monitor-pending-payments"]
SWEEP = BEAT_SCHEDULE["deliver-webhooks"]


def procfile_command(name: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"Procfile has no {name} process")


def test_every_tick_routes_to_the_ticks_queue_and_batch_jobs_do_not():
    router = app.amqp.router
    for entry in BEAT_SCHEDULE.values():
        queue = router.route(entry.get("options", {}), entry["task"])["queue"].name
        assert queue == ("celery" if entry["task"] in BATCH_JOBS else TICKS_QUEUE), entry["task"]


def test_the_procfile_serves_both_queues_with_separate_workers():
    assert "-Q celery" in procfile_command("worker")
    assert f"-Q {TICKS_QUEUE}" in procfile_command("ticks")


@pytest.fixture
def procfile_workers(sandbox_process):
    db = settings.DATABASES["default"]
    env = {**os.environ, "REDIS_URL": settings.REDIS_URL, "NANO_RPC_URL": settings.NANO_RPC_URL,
           "SANDBOX_MODE": "true", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "WEBHOOK_PRIVATE_HOSTS": "127.0.0.1",  # a seller's receiver in a test listens on loopback
           "DATABASE_URL": f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
                           f"/{db['NAME']}"}
    processes = {name: subprocess.Popen(shlex.split(procfile_command(name).replace("INFO", "WARNING")), cwd=ROOT,
                                        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for name in ("worker", "ticks")}
    app.conf.task_always_eager = False
    try:
        yield processes
    finally:
        app.conf.task_always_eager = True
        for process in processes.values():
            process.send_signal(signal.SIGCONT)
            process.kill()
            process.wait(10)
        with app.connection_for_write() as connection:
            for queue in ("celery", TICKS_QUEUE):
                connection.default_channel.queue_purge(queue)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_monitor_tick_runs_within_two_intervals_behind_1000_queued_deliveries(procfile_workers):
    from webhooks.tasks import deliver_webhook

    seller = SellerFactory(default_currency="INR")
    PayoutDestinationFactory(seller=seller, method="nano")
    payment = payment_start(order_id=OrderFactory(seller=seller, amount=49900, currency="INR").pk,
                            method="nano", actor=Actor.shopper())
    simulate_payment(payment)

    procfile_workers["worker"].send_signal(signal.SIGSTOP)  # every delivery slot is taken
    for delivery_id in range(1, 1001):
        deliver_webhook.delay(delivery_id)
    app.send_task(MONITOR["task"], **MONITOR.get("options", {}))  # as beat sends it

    deadline = time.monotonic() + 2 * MONITOR["schedule"]
    while time.monotonic() < deadline:
        if Payment.objects.get(pk=payment.pk).status == "completed":
            return
        time.sleep(0.25)
    pytest.fail(f"the monitor tick did not run within {2 * MONITOR['schedule']:.0f} s behind 1,000 deliveries")


@pytest.fixture
def hanging_receiver():
    """A seller's webhook receiver that accepts connections and never answers (each attempt waits
    out the delivery timeout)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    yield f"http://127.0.0.1:{server.getsockname()[1]}/hooks"
    server.close()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_monitor_tick_runs_within_two_intervals_while_a_sellers_receiver_hangs(procfile_workers,
                                                                                 hanging_receiver):
    """The deliver-webhooks sweep sends what is due itself, each attempt waiting up to the delivery
    timeout. On the ticks queue, five retries due to a hanging receiver held its one process for 50 s,
    and the monitor ticks meanwhile expired unrun: no payment was checked."""
    seller = SellerFactory(default_currency="INR")
    PayoutDestinationFactory(seller=seller, method="nano")
    endpoint = WebhookEndpoint.objects.create(seller=seller, url=hanging_receiver, secret=new_webhook_secret())
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(endpoint=endpoint, seller=seller, message_id=f"msg_hang_{n}", event_type="payment.completed",
                        payload={"n": n}, status=WebhookDelivery.Status.FAILED, attempts=1,
                        next_attempt_at=timezone.now() - timedelta(seconds=1)) for n in range(5))
    payment = payment_start(order_id=OrderFactory(seller=seller, amount=49900, currency="INR").pk,
                            method="nano", actor=Actor.shopper())
    simulate_payment(payment)

    app.send_task(SWEEP["task"], **SWEEP.get("options", {}))  # as beat sends them: the sweep first
    app.send_task(MONITOR["task"], **MONITOR.get("options", {}))

    deadline = time.monotonic() + 2 * MONITOR["schedule"]
    while time.monotonic() < deadline:
        if Payment.objects.get(pk=payment.pk).status == "completed":
            return
        time.sleep(0.25)
    pytest.fail(f"the monitor tick did not run within {2 * MONITOR['schedule']:.0f} s of a sweep to a hanging receiver")

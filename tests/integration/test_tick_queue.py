"""Beat's ticks cannot be starved by deliveries: the Procfile's `ticks` worker serves their own queue.

The delivery worker is stopped (SIGSTOP: the extreme of "busy with deliveries") and 1,000 deliveries
are queued behind it; the monitor tick, sent exactly as beat sends it, still completes a paid Nano
payment within two monitor intervals."""
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from config.celery_app import BATCH_JOBS, BEAT_SCHEDULE, TICKS_QUEUE, app
from orders.actors import Actor
from payments.models import Payment
from payments.sandbox_client import simulate_payment
from payments.services import payment_start
from tests.factories import OrderFactory, PayoutDestinationFactory, SellerFactory

ROOT = Path(__file__).resolve().parents[2]
MONITOR = BEAT_SCHEDULE["monitor-pending-payments"]


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

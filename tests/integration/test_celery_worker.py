"""A real Celery worker process consumes our queue over Redis and runs a service on Postgres."""
import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from payments.models import Payment
from tests.factories import PaymentFactory

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.integration,
              pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker():
    from config.celery_app import app

    queue = f"kassa-test-{uuid.uuid4().hex[:8]}"
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": (f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
                         f"/{db['NAME']}"),
        "REDIS_URL": settings.REDIS_URL,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "--pool", "solo",
         "--without-gossip", "--without-mingle", "--loglevel", "WARNING"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    app.conf.task_always_eager = False
    try:
        yield queue
    finally:
        app.conf.task_always_eager = True
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return False


def test_worker_runs_the_expiry_task_against_postgres(worker):
    from payments.tasks import expire_stale_payments

    payment = PaymentFactory(expires_at=timezone.now() - timedelta(hours=1))
    expire_stale_payments.apply_async(queue=worker)
    assert wait_for(lambda: Payment.objects.get(pk=payment.pk).status == "expired"), \
        "the worker did not expire the payment within 30 s"


def test_worker_writes_to_the_shared_cache(worker):
    from django.core.cache import cache

    from payments.tasks import ping

    marker = uuid.uuid4().hex
    ping.apply_async(args=[marker], queue=worker)
    assert wait_for(lambda: cache.get(f"ping:{marker}") == "pong")

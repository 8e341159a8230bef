"""config/redis.py: one Redis client per process, safe across threads and fork."""
import json
import os
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.redis
ROOT = Path(__file__).resolve().parents[1]


def test_forked_workers_use_redis_at_once_without_errors():
    """A cold gunicorn worker's first requests arrive together: none may fail on the shared client."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "redis_fork_probe.py"), f"probe:{uuid.uuid4().hex}"], cwd=ROOT,
        env={**os.environ, "REDIS_URL": settings.REDIS_URL}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome == {"errors": 0, "sample": [], "missing": 0}


def test_a_cold_client_counts_every_threads_hit():
    import config.redis
    from sellers.api_auth import window_counts
    from tests.concurrency import run_at_once

    config.redis._forget_after_fork()  # as a fresh process: the first use happens in 8 threads at once
    key = f"throttle_test_{uuid.uuid4().hex}"
    run_at_once(*[lambda: [window_counts(key, 7, 60) for _ in range(25)] for _ in range(8)])
    assert window_counts(key, 7, 60) == (201, 0)
    assert len({id(config.redis.redis_client()) for _ in range(3)}) == 1


def test_the_client_has_bounded_timeouts():
    from config.redis import redis_client

    kwargs = redis_client().connection_pool.connection_kwargs
    assert 0 < kwargs["socket_connect_timeout"] <= 2 and 0 < kwargs["socket_timeout"] <= 5


@pytest.fixture
def hung_broker():
    """A broker that takes connections and never answers: a stopped Redis, or one that failed over or
    whose flow a NAT or firewall dropped without closing the connection."""
    from config.celery_app import app

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    saved = app.conf.broker_url, app._pool, app.amqp._producer_pool
    app.conf.broker_url = f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    app._pool = app.amqp._producer_pool = None  # connections to it, made anew
    app.conf.task_always_eager = False  # conftest's _eager_celery restores it
    yield
    server.close()
    app.conf.broker_url, app._pool, app.amqp._producer_pool = saved


def test_a_publish_to_a_broker_that_stopped_answering_fails_instead_of_waiting_for_ever(hung_broker):
    """kombu's Redis transport has no socket timeout unless given one: an after-commit publish (an
    email, a delivery, a check) held its request until gunicorn killed it, and a worker's task for
    ever. With the broker's timeouts the publish fails and the caller's fallback (a beat sweep) runs."""
    from kombu.exceptions import OperationalError

    from payments.tasks import ping

    outcome = []

    def publish():
        try:
            ping.delay("hung")
            outcome.append("published")
        except OperationalError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=publish, daemon=True)
    thread.start()
    thread.join(60)  # a bound for the test run, not a speed: without timeouts it never returns
    assert outcome and isinstance(outcome[0], OperationalError), "the publish is still waiting for the broker"

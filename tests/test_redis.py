"""config/redis.py: one Redis client per process, safe across threads and fork."""
import json
import os
import subprocess
import sys
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

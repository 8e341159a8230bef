"""One Redis client per process for the hot paths that talk to Redis directly (the API throttle's
counters, the webhook drain kick). Django's cache backend builds a client object per call, which
costs more than the round trip itself.

The client is built on first use in the process that uses it, under a lock, and kept: a client
that is built twice and dropped closes its pool's sockets while another thread still reads from
them ("Bad file descriptor" on a cold gunicorn worker). One thread-safe connection pool serves
every thread. After a fork the child builds its own; the parent's sockets stay the parent's.
"""
from __future__ import annotations

import logging
import os
import threading
import time

import redis
import redis.exceptions
from django.conf import settings
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

log = logging.getLogger("kassa.redis")

# What an unreachable or stalled Redis raises, through this client or Django's Redis cache.
REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
# After a failure, callers that can do without Redis skip it for this long (no timeout per request,
# one warning per outage window); also the Retry-After of a 503 that Redis caused.
OUTAGE_SECONDS = 5

# A healthy Redis answers in about a millisecond; these bound a stall, not a normal call. One retry
# covers a connection the server dropped while idle (and a cold worker's first connect).
CONNECT_TIMEOUT_SECONDS = 1.0
READ_TIMEOUT_SECONDS = 2.0
IDLE_PING_SECONDS = 30  # a connection idle this long is pinged before use (a restarted server)

_lock = threading.Lock()
_client = None
_pid = 0
_down_until = 0.0


def redis_client():
    """This process's Redis client (thread-safe; built lazily, again after a fork)."""
    client = _client
    if client is not None and _pid == os.getpid():
        return client
    return _build()


def _build():
    global _client, _pid
    with _lock:
        if _client is None or _pid != os.getpid():
            pool = redis.ConnectionPool.from_url(
                settings.REDIS_URL, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
                socket_timeout=READ_TIMEOUT_SECONDS, health_check_interval=IDLE_PING_SECONDS,
                retry=Retry(ExponentialBackoff(cap=0.1, base=0.01), retries=1),
                retry_on_error=[redis.ConnectionError, redis.TimeoutError])
            # Given a pool, the client does not own it: dropping a client never closes shared sockets.
            _client, _pid = redis.Redis(connection_pool=pool), os.getpid()
        return _client


def redis_skipped() -> bool:
    """True while a recent failure says Redis is down: a caller with a fallback uses it at once."""
    return time.monotonic() < _down_until


def redis_failed(use: str, exc: BaseException) -> None:
    """Record a failure of `use` (logged once per outage window) and skip Redis for a while."""
    global _down_until
    if not redis_skipped():
        log.warning("redis unavailable", extra={"use": use, "error": exc.__class__.__name__,
                                                "skip_seconds": OUTAGE_SECONDS})
    _down_until = time.monotonic() + OUTAGE_SECONDS


def _forget_after_fork() -> None:
    # The parent may have forked while another thread held the lock; the child starts clean.
    global _lock, _client, _pid, _down_until
    _lock, _client, _pid, _down_until = threading.Lock(), None, 0, 0.0


os.register_at_fork(after_in_child=_forget_after_fork)

"""One Redis client per process for the hot paths that talk to Redis directly
(the API throttle's counters, the webhook drain kick). Django's cache backend builds a
client object per call, which costs more than the round trip itself."""
from __future__ import annotations

from functools import cache

from django.conf import settings


@cache
def redis_client():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)

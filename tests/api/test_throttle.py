"""The API key throttle: a sliding-window counter in the cache (Redis when REDIS_URL is set)."""
import uuid

import pytest
from rest_framework.test import APIRequestFactory

from sellers.api_auth import ApiKeyRateThrottle, window_counts
from tests.concurrency import run_at_once


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def _throttle(rate: str, clock: Clock) -> ApiKeyRateThrottle:
    throttle = ApiKeyRateThrottle()
    throttle.rate = rate
    throttle.num_requests, throttle.duration = throttle.parse_rate(rate)
    throttle.timer = clock
    return throttle


@pytest.fixture
def request_from_new_client():
    # A fresh address per test: the counters live in the shared cache (Redis on CI).
    octets = uuid.uuid4().bytes
    return APIRequestFactory().get("/api/v1/orders/", REMOTE_ADDR=f"10.{octets[0]}.{octets[1]}.{octets[2]}")


def test_allows_the_rate_then_refuses_with_a_wait(request_from_new_client):
    clock = Clock(1_000_040.0)  # 20 s into a minute window
    throttle = _throttle("5/min", clock)
    assert [throttle.allow_request(request_from_new_client, None) for _ in range(6)] == [True] * 5 + [False]
    assert throttle.wait() == pytest.approx(40.0)  # nothing before the next window


def test_the_previous_window_counts_by_how_much_it_still_overlaps(request_from_new_client):
    clock = Clock(1_000_040.0)
    throttle = _throttle("10/min", clock)
    for _ in range(10):
        assert throttle.allow_request(request_from_new_client, None)
    # 30 s into the next minute half of the previous window still overlaps: 10 * 0.5 = 5 used.
    clock.now = 1_000_040.0 + 40 + 30  # the next window starts 40 s later; then 30 s in
    allowed = [throttle.allow_request(request_from_new_client, None) for _ in range(7)]
    assert allowed == [True] * 5 + [False] * 2
    # A refused request counts too: 7 now + 10 * 0.5 = 12 > 10; room again once 7 + 10w ≤ 10, w ≤ 0.3.
    assert throttle.wait() == pytest.approx(0.2 * 60, abs=0.01)


def test_a_whole_quiet_window_later_everything_is_allowed_again(request_from_new_client):
    clock = Clock(1_000_040.0)
    throttle = _throttle("3/min", clock)
    for _ in range(4):
        throttle.allow_request(request_from_new_client, None)
    clock.now += 120
    assert throttle.allow_request(request_from_new_client, None)


def test_concurrent_hits_are_all_counted():
    key = f"throttle_test_{uuid.uuid4().hex}"
    run_at_once(*[lambda: [window_counts(key, 7, 60) for _ in range(25)] for _ in range(4)])
    assert window_counts(key, 7, 60) == (101, 0)

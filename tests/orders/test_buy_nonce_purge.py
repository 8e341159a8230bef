"""The Buy form's database nonces (claimed while Redis was down) are purged hourly by beat,
not only when the next claim during an outage happens to clean up."""
from datetime import timedelta

import pytest
from django.utils import timezone

from config.celery_app import BEAT_SCHEDULE, TICKS_QUEUE, app
from orders.buy_nonce import TTL_SECONDS
from orders.models import BuyNonce

pytestmark = pytest.mark.django_db


def test_nonces_older_than_their_ttl_are_purged_and_fresh_ones_kept():
    from orders.tasks import purge_buy_nonces

    now = timezone.now()
    BuyNonce.objects.create(key="a" * 64, created_at=now - timedelta(seconds=TTL_SECONDS + 5))
    BuyNonce.objects.create(key="b" * 64, checkout_token="tok", created_at=now - timedelta(days=3))
    BuyNonce.objects.create(key="c" * 64, created_at=now - timedelta(seconds=TTL_SECONDS - 60))
    assert purge_buy_nonces() == 2
    assert list(BuyNonce.objects.values_list("key", flat=True)) == ["c" * 64], "a live form still dedupes"
    assert purge_buy_nonces() == 0


def test_the_purge_is_on_the_beat_schedule_hourly_on_the_ticks_queue():
    entries = [e for e in BEAT_SCHEDULE.values() if e["task"] == "orders.tasks.purge_buy_nonces"]
    assert len(entries) == 1 and entries[0]["schedule"] == 3600.0
    assert app.conf.task_routes["orders.tasks.purge_buy_nonces"] == {"queue": TICKS_QUEUE}

"""Periodic work for orders (scheduled in config/celery_app.py BEAT_SCHEDULE)."""
from __future__ import annotations

from celery import shared_task

from orders.buy_nonce import buy_nonce_purge


@shared_task(ignore_result=True)
def purge_buy_nonces() -> int:
    return buy_nonce_purge()

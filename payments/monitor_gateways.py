"""Fallback poll for gateway payments whose webhook never came, and capture retry.

Each tick claims at most GATEWAY_POLL_CAP_PER_TICK payments, oldest poll first:
- pending payments older than GATEWAY_POLL_AFTER_MINUTES with no webhook for that long
  (a failed attempt's webhook says nothing about a later attempt);
- confirming payments whether or not a webhook came: an authorized Razorpay payment
  whose capture call failed stays confirming until a poll captures it.
Each is polled again only after GATEWAY_POLL_AFTER_MINUTES. Claiming = a conditional
UPDATE of last_polled_at, so two ticks at once never poll the same payment. Facts go
through observation_apply; a provider that is down raises ProviderError and the
monitor skips the tick, changing nothing. Each tick also re-queues stored webhooks
whose processing, or whose retry, the broker lost.
"""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from orders.actors import Actor
from payments.models import Payment
from payments.providers.errors import ProviderRejected
from payments.providers.registry import get_provider
from payments.services import observation_apply
from payments.webhooks import inbound_webhooks_requeue_stale


def _claim(method: str, now) -> list[Payment]:
    stale = now - timedelta(minutes=settings.GATEWAY_POLL_AFTER_MINUTES)
    quiet = Q(status=Payment.Status.PENDING, created_at__lt=stale) & (
        Q(last_webhook_at__isnull=True) | Q(last_webhook_at__lt=stale))
    candidates = list(
        Payment.objects.filter(method=method, status__in=Payment.ACTIVE_STATUSES)
        .filter(quiet | Q(status=Payment.Status.CONFIRMING))
        .exclude(provider_ref="")
        .filter(Q(last_polled_at__isnull=True) | Q(last_polled_at__lt=stale))
        .order_by(F("last_polled_at").asc(nulls_first=True), "created_at")
        .values_list("pk", "last_polled_at")[: settings.GATEWAY_POLL_CAP_PER_TICK]
    )
    claimed = []
    for pk, seen in candidates:
        # Compare-and-set on last_polled_at: only one tick wins each row.
        if Payment.objects.filter(pk=pk, last_polled_at=seen).update(last_polled_at=now) if seen else \
                Payment.objects.filter(pk=pk, last_polled_at__isnull=True).update(last_polled_at=now):
            claimed.append(pk)
    return list(Payment.objects.filter(pk__in=claimed).select_related("order"))


def _tick(method: str) -> dict:
    requeued = inbound_webhooks_requeue_stale(provider=method)
    payments = _claim(method, timezone.now())
    provider, applied, rejected = get_provider(method), 0, 0
    for payment in payments:
        try:
            observations = provider.poll([payment])
        except ProviderRejected:
            rejected += 1  # e.g. an order the gateway no longer knows: staff see it in the log
            continue
        for observation in observations:
            applied += observation_apply(observation=observation, actor=Actor.provider(method)).changed
    return {"polled": len(payments), "applied": applied, "rejected": rejected, "webhooks_requeued": requeued}


def tick_razorpay() -> dict:
    return _tick("razorpay")


def tick_coinpay() -> dict:
    return _tick("coinpay")

"""Sending outbound webhooks (Standard Webhooks): signing, attempts, backoff.

webhook-id is the delivery's message_id (stable across retries), webhook-timestamp
is the attempt time, webhook-signature is "v1,<base64 HMAC-SHA256(id.timestamp.body)>"
keyed with the base64-decoded part of the endpoint's whsec_ secret.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import random
import time
from datetime import timedelta

import requests
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from sellers.validators import validate_webhook_url
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.notices import webhook_disabled_queue

log = logging.getLogger("kassa.webhooks")

# Delay before attempt n+1 (after n failures): 8 attempts spread over ~24 h, plus up to
# 10 % jitter so a recovering receiver is not hit by every retry at once.
RETRY_SCHEDULE = [timedelta(seconds=s) for s in (5, 60, 600, 3600, 3 * 3600, 8 * 3600, 12 * 3600)]
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
RESPONSE_EXCERPT_BYTES = 500
TIMEOUT_SECONDS = 10
DISABLE_AFTER = timedelta(days=3)


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    to_sign = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, to_sign, hashlib.sha256).digest()).decode()


def should_retry(status_code: int | None) -> bool:
    """Timeouts/connection errors (None), 5xx and 429 are retried; other 4xx are final."""
    return status_code is None or status_code >= 500 or status_code == 429


def next_delay(attempts: int) -> timedelta:
    base = RETRY_SCHEDULE[min(attempts - 1, len(RETRY_SCHEDULE) - 1)]
    return base + timedelta(seconds=random.uniform(0, base.total_seconds() * 0.1))


def delivery_attempt(*, delivery_id: int, force: bool = False) -> WebhookDelivery | None:
    """Send one delivery now if it is due (or forced). Claims the row with a lock so
    two workers never send the same attempt twice."""
    with transaction.atomic():
        delivery = (WebhookDelivery.objects.select_for_update(skip_locked=True).select_related("endpoint")
                    .filter(pk=delivery_id).first())
        if delivery is None or delivery.status == WebhookDelivery.Status.SUCCEEDED:
            return delivery
        if not force and delivery.next_attempt_at and delivery.next_attempt_at > timezone.now():
            return delivery
        # Claim: push next_attempt_at out so the sweeper doesn't pick it up mid-send.
        delivery.next_attempt_at = timezone.now() + timedelta(seconds=TIMEOUT_SECONDS * 3)
        delivery.save(update_fields=["next_attempt_at"])
    return _send(delivery, force=force)


def _refusal(delivery: WebhookDelivery, force: bool) -> str:
    """Why this delivery must not be sent at all (final, never retried), or ""."""
    if not delivery.endpoint.is_active and not force:
        return "Endpoint is disabled."
    try:
        validate_webhook_url(delivery.endpoint.url)  # again at send time: DNS may have changed
    except ValidationError as exc:
        return f"Refused: {exc.messages[0]}"
    return ""


def _send(delivery: WebhookDelivery, force: bool = False) -> WebhookDelivery:
    endpoint = delivery.endpoint
    if refusal := _refusal(delivery, force):
        return _record(delivery, None, refusal, "", 0, final=True)
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "user-agent": "Kassa-Webhooks/1.0",
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(endpoint.secret, delivery.message_id, timestamp, body),
    }
    started = time.perf_counter()
    status_code, error, excerpt = None, "", ""
    try:
        # No redirects (a 3xx could point inside our network); read only an excerpt of the answer.
        with requests.post(endpoint.url, data=body, headers=headers, timeout=TIMEOUT_SECONDS,
                           allow_redirects=False, stream=True) as response:
            status_code = response.status_code
            excerpt = response.raw.read(RESPONSE_EXCERPT_BYTES, decode_content=True).decode("utf-8", "replace")
    except (requests.RequestException, OSError) as exc:
        error = f"{exc.__class__.__name__}: {str(exc)[:250]}"
    duration_ms = int((time.perf_counter() - started) * 1000)
    return _record(delivery, status_code, error, excerpt, duration_ms)


def _record(delivery, status_code, error, excerpt, duration_ms, final: bool = False) -> WebhookDelivery:
    now = timezone.now()
    ok = status_code is not None and 200 <= status_code < 300
    with transaction.atomic():
        WebhookAttempt.objects.create(delivery=delivery, status_code=status_code, error=error,
                                      duration_ms=duration_ms, response_excerpt=excerpt)
        delivery.attempts += 1
        delivery.last_status_code = status_code
        delivery.last_error = error or ("" if ok else f"HTTP {status_code}")
        if ok:
            delivery.status, delivery.delivered_at = WebhookDelivery.Status.SUCCEEDED, now
            delivery.next_attempt_at = None
        elif not final and should_retry(status_code) and delivery.attempts < MAX_ATTEMPTS:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.next_attempt_at = now + next_delay(delivery.attempts)
        else:
            delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.DEAD, None
        delivery.save(update_fields=["attempts", "last_status_code", "last_error", "status",
                                     "delivered_at", "next_attempt_at"])
        if not final:  # a refusal says nothing about the receiver's health
            _track_endpoint_health(delivery.endpoint_id, ok, now)
    log.info("webhook attempt", extra={"delivery": delivery.pk, "status": status_code, "ok": ok, "ms": duration_ms})
    return delivery


def _track_endpoint_health(endpoint_id: int, ok: bool, now) -> None:
    """An endpoint failing without a single success for DISABLE_AFTER is disabled."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
    if ok:
        if endpoint.failing_since:
            endpoint.failing_since = None
            endpoint.save(update_fields=["failing_since"])
        return
    if endpoint.failing_since is None:
        endpoint.failing_since = now
        endpoint.save(update_fields=["failing_since"])
    elif endpoint.is_active and now - endpoint.failing_since >= DISABLE_AFTER:
        endpoint.is_active = False
        endpoint.disabled_at = now
        endpoint.disabled_reason = "Every delivery failed for 3 days."
        endpoint.save(update_fields=["is_active", "disabled_at", "disabled_reason"])
        webhook_disabled_queue(endpoint)


def deliveries_send_due(*, limit: int = 200) -> int:
    """Beat sweeper: attempt every pending/failed delivery whose time has come."""
    due = list(WebhookDelivery.objects.filter(
        status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.FAILED],
        next_attempt_at__lte=timezone.now(),
    ).order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
    for delivery_id in due:
        delivery_attempt(delivery_id=delivery_id)
    return len(due)


def delivery_resend(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """A seller's "resend": a fresh attempt now, keeping the same webhook-id."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.PENDING, next_attempt_at=timezone.now())
    return delivery_attempt(delivery_id=delivery.pk, force=True)

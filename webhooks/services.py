"""Writes for outbound webhooks: outbox rows in the caller's transaction, and the seller's endpoints."""
from __future__ import annotations

import base64
import secrets
import uuid
from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from config.celery_app import publish
from config.errors import DomainError
from sellers.models import Seller
from webhooks.models import WebhookDelivery, WebhookEndpoint

MAX_ENDPOINTS = 20  # per seller: each event fans out to every endpoint

# --- outbound webhooks: the outbox ----------------------------------------------------

def _envelope(event_type: str, data: dict, now) -> dict:
    return {"type": event_type, "created_at": now.isoformat().replace("+00:00", "Z"), "data": data}


def webhook_events_emit_many(events: list[tuple[int, str, dict]]) -> list[WebhookDelivery]:
    """Write outbox rows for (seller_id, event_type, data) events in the caller's
    transaction, and queue their delivery after commit. One query for all endpoints."""
    if not events:
        return []
    endpoints = defaultdict(list)
    for endpoint in WebhookEndpoint.objects.filter(seller_id__in={e[0] for e in events}, is_active=True):
        endpoints[endpoint.seller_id].append(endpoint)
    now = timezone.now()
    rows = []
    for seller_id, event_type, data in events:
        message_id = f"msg_{uuid.uuid4().hex}"
        payload = _envelope(event_type, data, now)
        rows.extend(
            WebhookDelivery(endpoint=endpoint, seller_id=seller_id, message_id=message_id,
                            event_type=event_type, payload=payload, next_attempt_at=now)
            for endpoint in endpoints[seller_id] if endpoint.wants(event_type)
        )
    created = WebhookDelivery.objects.bulk_create(rows)
    if created:
        ids = [row.pk for row in created]
        transaction.on_commit(lambda: _enqueue_deliveries(ids))
    return created


def webhook_event_emit(*, seller_id: int, event_type: str, data: dict) -> list[WebhookDelivery]:
    return webhook_events_emit_many([(seller_id, event_type, data)])


def _enqueue_deliveries(ids: list[int]) -> None:
    for delivery_id in ids:  # broker down: the deliver_due_webhooks beat task picks these up
        publish("webhooks.tasks.deliver_webhook", delivery_id)


# --- webhook endpoints ----------------------------------------------------------------

def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class EndpointRefused(DomainError):
    """An endpoint the seller cannot add; the message is safe to show."""

    http_status = 409

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.user_message, self.code = message, code


def webhook_endpoint_create(*, seller: Seller, url: str, events: list[str], description: str = "") -> WebhookEndpoint:
    """Holds the seller's row lock, so two submits of one form (or racing API calls) add one endpoint
    for a URL and never more than MAX_ENDPOINTS: a second endpoint for a URL would get every event
    again, signed with a secret nobody was shown."""
    with transaction.atomic():
        list(Seller.objects.select_for_update().filter(pk=seller.pk).values_list("pk", flat=True))
        existing = WebhookEndpoint.objects.filter(seller=seller)
        if existing.filter(url=url).exists():
            raise EndpointRefused(f"An endpoint already sends to {url}. Rotate its secret if you lost it, or "
                                  "delete it first.", code="endpoint_exists")
        if existing.count() >= MAX_ENDPOINTS:
            raise EndpointRefused(f"A seller can have at most {MAX_ENDPOINTS} webhook endpoints.",
                                  code="too_many_endpoints")
        return WebhookEndpoint.objects.create(seller=seller, url=url, events=list(events),
                                              description=description[:120], secret=new_webhook_secret())


def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    endpoint.secret = new_webhook_secret()
    endpoint.save(update_fields=["secret"])
    return endpoint


def webhook_endpoint_send_test(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Queue a payment.completed-shaped test event to this one endpoint through the outbox
    (signed and retried like any other delivery; data.test is true)."""
    now = timezone.now()
    data = {"id": f"test_{uuid.uuid4().hex[:24]}", "object": "payment", "test": True, "order": None,
            "method": "nano", "status": "completed", "exceptions": [], "currency": endpoint.seller.default_currency,
            "amount": 100, "created_at": now.isoformat().replace("+00:00", "Z")}
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint, seller_id=endpoint.seller_id, message_id=f"msg_{uuid.uuid4().hex}",
            event_type="payment.completed", payload=_envelope("payment.completed", data, now), next_attempt_at=now)
        transaction.on_commit(lambda: _enqueue_deliveries([delivery.pk]))
    return delivery


def webhook_endpoint_enable(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Turn a disabled endpoint back on; its failure clock starts again."""
    endpoint.is_active, endpoint.disabled_at, endpoint.disabled_reason, endpoint.failing_since = True, None, "", None
    endpoint.save(update_fields=["is_active", "disabled_at", "disabled_reason", "failing_since"])
    return endpoint


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()

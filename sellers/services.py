"""Writes for sellers: outbound webhook outbox, API keys, endpoints, settings."""
from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from sellers.models import ApiKey, Seller, WebhookDelivery, WebhookEndpoint

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
    from sellers.tasks import deliver_webhook

    for delivery_id in ids:
        try:
            deliver_webhook.delay(delivery_id)
        except Exception:  # broker down: the deliver_due_webhooks beat task picks these up
            import logging

            logging.getLogger("kassa.webhooks").warning("enqueue failed", extra={"delivery": delivery_id})


# --- API keys -------------------------------------------------------------------------

def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


API_KEY_PREFIX_LEN = 16  # "sk_test_" + 8 characters: unique, indexed, safe to show


def api_key_create(*, seller: Seller, name: str = "Default", mode: str = ApiKey.Mode.TEST,
                   created_by=None) -> tuple[ApiKey, str]:
    """Returns (row, the full key). The key is never stored and cannot be shown again."""
    key = f"sk_{mode}_{secrets.token_urlsafe(32)}"
    row = ApiKey.objects.create(seller=seller, name=name[:80], mode=mode, prefix=key[:API_KEY_PREFIX_LEN],
                                key_hash=hash_api_key(key), created_by=created_by)
    return row, key


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


# --- webhook endpoints ----------------------------------------------------------------

def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def webhook_endpoint_create(*, seller: Seller, url: str, events: list[str], description: str = "") -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(seller=seller, url=url, events=list(events),
                                          description=description[:120], secret=new_webhook_secret())


def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    endpoint.secret = new_webhook_secret()
    endpoint.save(update_fields=["secret"])
    return endpoint


# --- seller status (staff) ------------------------------------------------------------

def seller_set_status(*, seller: Seller, status: str) -> bool:
    """Approve (active) or suspend a seller; returns False when it already had that status.

    A conditional UPDATE, so two clicks change it once. A suspended seller's checkout
    refuses new payments (payments.services.check_method_available).
    """
    if status not in Seller.Status.values:
        raise ValueError(f"Unknown seller status “{status}”.")
    changed = Seller.objects.filter(pk=seller.pk).exclude(status=status).update(status=status)
    seller.status = status
    return bool(changed)


# --- dashboard settings ---------------------------------------------------------------------

SETTINGS_FIELDS = ("name", "timezone", "locale", "default_currency", "support_email", "enabled_methods",
                   "require_two_factor")


def seller_update_settings(*, seller: Seller, **changes) -> Seller:
    """Update a seller's own settings (not fee or status, which staff own). Validated by
    the model's field validators. (A timezone change needs nothing else here: the
    dashboard rollup records the zone it was cut in and rebuilds itself.)"""
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValueError(f"Not a seller setting: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        locked = Seller.objects.select_for_update().get(pk=seller.pk)
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.full_clean(exclude=["slug"])
        locked.save(update_fields=list(changes))
    return locked


def payout_destination_set(*, seller: Seller, method: str, value: str, label: str = ""):
    """Create, replace or (with an empty value) remove the seller's destination for a method.
    Raises ValidationError (from PayoutDestination.clean) on a bad address or account id."""
    from sellers.models import PayoutDestination

    value = (value or "").strip()
    with transaction.atomic():
        if not value:
            PayoutDestination.objects.filter(seller=seller, method=method).delete()
            return None
        destination = PayoutDestination.objects.filter(seller=seller, method=method).first() or \
            PayoutDestination(seller=seller, method=method)
        destination.value, destination.label = value, label[:80]
        destination.full_clean(exclude=["seller"])
        destination.save()
    return destination


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

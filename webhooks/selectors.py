"""Reads of the outbound-webhook outbox."""
from __future__ import annotations

from webhooks.models import WebhookEndpoint


def sellers_wanting_event(event_type: str, seller_ids: set) -> set:
    """Those of these sellers with an active endpoint subscribed to `event_type`."""
    return {endpoint.seller_id for endpoint in WebhookEndpoint.objects.filter(seller_id__in=seller_ids, is_active=True)
            if endpoint.wants(event_type)}

"""The seller's email when Kassa disables one of their webhook endpoints, queued inside the transaction
that disables it (webhooks sits above notifications, so it calls the outbox directly)."""
from django.conf import settings
from django.urls import reverse

from notifications.kinds import Kind
from notifications.selectors import seller_recipients
from notifications.services import queue_email
from webhooks.models import WebhookEndpoint


def webhook_disabled_queue(endpoint: WebhookEndpoint) -> None:
    """Once per disabling (the key carries when), so an endpoint re-enabled and disabled again tells again."""
    seller = endpoint.seller
    subject = "A webhook endpoint was disabled"
    queue_email(
        kind=Kind.WEBHOOK_DISABLED, key=f"webhook_disabled:endpoint:{endpoint.pk}:{endpoint.disabled_at:%Y%m%d%H%M%S}",
        to=seller_recipients(seller, Kind.WEBHOOK_DISABLED), subject=subject, template="notice", seller=seller,
        context={"brand": seller.name, "heading": subject,
                 "lines": [f"Kassa stopped sending events to this endpoint: {endpoint.disabled_reason}",
                           "Fix the receiver, then enable it again; events from the meantime can be resent from "
                           "the delivery log."],
                 "facts": [("Endpoint", endpoint.url), ("Disabled at", f"{endpoint.disabled_at:%Y-%m-%d %H:%M} UTC")],
                 "link": f"{settings.SITE_URL}{reverse('dashboard:developers')}", "link_label": "Open Developers"})

"""What each gateway event type does: one handler per type, each calling one service
(observation_apply, refund_mark_*, settlement_mark). payments.webhooks stores, queues and
runs them; every name here is importable from there too."""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from orders.actors import Actor
from payments.models import Payment, Refund
from payments.providers.errors import ProviderError
from payments.providers.gateway_events import GatewayEvent
from payments.providers.registry import get_provider
from payments.services import observation_apply, refund_mark_failed, refund_mark_succeeded
from payments.settlement import settlement_mark

log = logging.getLogger("kassa.webhooks")


class RetryLater(Exception):
    """The event refers to something we have not recorded yet (e.g. a refund id)."""


def _apply_observations(event: GatewayEvent) -> None:
    touched = set()
    for observation in event.observations:
        result = observation_apply(observation=observation, actor=Actor.provider(event.provider))
        if result.payment is not None:
            touched.add(result.payment.pk)
    if touched:
        Payment.objects.filter(pk__in=touched).update(last_webhook_at=timezone.now())


def _razorpay_authorized(event: GatewayEvent) -> None:
    """Record the authorization, then capture it after commit (orders without
    auto-capture would otherwise lapse) so no row lock is held across the HTTP call."""
    _apply_observations(event)
    for observation in event.observations:
        if not (observation.confirmed or observation.failed):
            transaction.on_commit(lambda obs=observation: _razorpay_capture(event, obs))


def _razorpay_capture(event: GatewayEvent, observation) -> None:
    """A failed capture changes nothing: the fallback poll captures later."""
    try:
        captured = get_provider(event.provider).capture(observation)
    except ProviderError as exc:
        log.warning("razorpay capture deferred", extra={"tx": observation.external_tx_id,
                                                         "error": exc.__class__.__name__})
        return
    if captured is not None:
        _apply_observations(GatewayEvent(provider=event.provider, event_id=event.event_id, type=event.type,
                                         observations=[captured]))


def _find_refund(event: GatewayEvent) -> Refund:
    update = event.refund
    query = Refund.objects.filter(payment__method=event.provider)
    refund = query.filter(provider_refund_id=update.provider_refund_id).first() if update.provider_refund_id else None
    if refund is None and update.kassa_refund_id:
        try:
            refund = query.filter(pk=uuid.UUID(update.kassa_refund_id)).first()
        except ValueError:
            refund = None
    if refund is None:
        raise RetryLater(f"refund {update.provider_refund_id} not recorded yet")
    return refund


def _apply_refund(event: GatewayEvent) -> None:
    refund, update, actor = _find_refund(event), event.refund, Actor.provider(event.provider)
    if update.status == "succeeded":
        refund_mark_succeeded(refund=refund, actor=actor, provider_refund_id=update.provider_refund_id)
    elif update.status == "failed":
        refund_mark_failed(refund=refund, actor=actor, reason=update.failure_reason,
                           provider_refund_id=update.provider_refund_id)


def _apply_settlement(event: GatewayEvent) -> None:
    update = event.settlement
    if not settlement_mark(method=event.provider, provider_ref=update.provider_ref,
                           settlement_id=update.kassa_settlement_id, status=update.status,
                           failure_reason=update.failure_reason):
        raise RetryLater(f"settlement {update.provider_ref} not recorded yet")


HANDLERS: dict[str, Callable[[GatewayEvent], None]] = {
    "payment.authorized": _razorpay_authorized,
    "payment.captured": _apply_observations,
    "payment.failed": _apply_observations,
    "order.paid": _apply_observations,
    "transaction.completed": _apply_observations,
    "transaction.failed": _apply_observations,
    "refund.processed": _apply_refund,
    "refund.failed": _apply_refund,
    "refund.completed": _apply_refund,
    "transfer.processed": _apply_settlement,
    "transfer.failed": _apply_settlement,
    "transfer.reversed": _apply_settlement,
    "payout.completed": _apply_settlement,
    "payout.failed": _apply_settlement,
}

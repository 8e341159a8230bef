"""The inbound webhook pipeline for the gateways (Razorpay, CoinPay).

receive (in the request): verify the HMAC over the raw body, store the row in its
own autocommit insert (so a later failure keeps the evidence), answer fast, and
queue processing after commit. The partial unique index on (provider, event_id)
for valid rows is the de-duplication: a replay hits IntegrityError → 200, nothing
queued. process (in a task): read the stored body and dispatch by event type to a
handler that calls one service (observation_apply, refund_mark_*, settlement_mark).
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from config.api import error_body
from orders.actors import Actor
from payments.models import InboundWebhook, Payment, Refund
from payments.providers.gateway_events import GatewayEvent
from payments.providers.registry import get_provider

log = logging.getLogger("kassa.webhooks")

GATEWAYS = ("razorpay", "coinpay")
# Kept for audit and for re-reading; never auth or cookie headers.
KEPT_HEADERS = ("content-type", "user-agent", "x-razorpay-signature", "x-razorpay-event-id",
                "x-signature", "x-event-id")
MAX_PROCESS_ATTEMPTS = 5
RETRY_COUNTDOWN_SECONDS = 30


class RetryLater(Exception):
    """The event refers to something we have not recorded yet (e.g. a refund id)."""


def _kept(headers: Mapping[str, str]) -> dict:
    return {key.lower(): value for key, value in headers.items() if key.lower() in KEPT_HEADERS}


def _metric(provider: str, valid: bool) -> None:
    from payments.metrics import WEBHOOKS_RECEIVED

    WEBHOOKS_RECEIVED.labels(provider, "yes" if valid else "no").inc()


def inbound_webhook_receive(provider: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict]:
    """Store, verify and queue one delivery. Returns (HTTP status, JSON body).

    400 bad signature (stored as invalid) or malformed JSON, 413 too large,
    200 accepted or duplicate. Must not run inside a transaction: the insert is
    the durable record even if processing later fails.
    """
    if provider not in GATEWAYS:
        return 404, error_body("not_found", "Unknown provider.")
    if len(body) > settings.MAX_REQUEST_BODY_BYTES:
        return 413, error_body("payload_too_large", f"Body is larger than {settings.MAX_REQUEST_BODY_BYTES} bytes.")
    gateway = get_provider(provider)
    valid = gateway.webhook_signature_valid(body, headers)
    event_id = gateway.webhook_event_id(body, headers)
    text = body.decode("utf-8", "replace")
    _metric(provider, valid)
    if not valid:
        InboundWebhook.objects.create(provider=provider, event_id=event_id, signature_valid=False,
                                      headers=_kept(headers), body=text, status=InboundWebhook.Status.INVALID,
                                      error="signature did not verify")
        log.warning("webhook rejected", extra={"provider": provider, "event_id": event_id, "reason": "signature"})
        return 400, error_body("signature_invalid", "The webhook signature did not verify.")
    try:
        event = gateway.read_event(body, headers)
    except (ValueError, UnicodeDecodeError):
        InboundWebhook.objects.create(provider=provider, event_id=f"malformed:{uuid.uuid4().hex}",
                                      headers=_kept(headers), body=text, status=InboundWebhook.Status.FAILED,
                                      error="malformed JSON")
        return 400, error_body("malformed_json", "The webhook body is not a JSON object.")
    # One INSERT in autocommit (one round trip); a savepoint only when a caller holds a transaction.
    guard = transaction.atomic() if transaction.get_connection().in_atomic_block else nullcontext()
    try:
        with guard:
            row = InboundWebhook.objects.create(provider=provider, event_id=event.event_id, event_type=event.type[:60],
                                                signature_valid=True, headers=_kept(headers), body=text)
    except IntegrityError:
        log.info("webhook duplicate", extra={"provider": provider, "event_id": event.event_id})
        return 200, {"received": True, "duplicate": True}
    _enqueue(row.pk)
    return 200, {"received": True}


def _enqueue(webhook_id: int) -> None:
    from payments.tasks import process_inbound_webhook

    try:
        process_inbound_webhook.delay_on_commit(webhook_id)
    except Exception:  # noqa: BLE001 - broker down: the row stays "received" for the sweep/reprocess
        log.exception("webhook enqueue failed", extra={"webhook": webhook_id})


# --- processing ------------------------------------------------------------------------

def _apply_observations(event: GatewayEvent) -> None:
    from payments.services import observation_apply

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
    from payments.providers.errors import ProviderError

    provider = get_provider("razorpay")
    try:
        entity = provider.capture(observation.external_tx_id, observation.amount,
                                  str(observation.raw.get("currency") or ""))
    except ProviderError as exc:
        log.warning("razorpay capture deferred", extra={"tx": observation.external_tx_id,
                                                         "error": exc.__class__.__name__})
        return
    if (captured := provider.observation_from_entity(entity)) is not None:
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
    from payments.services import refund_mark_failed, refund_mark_succeeded

    refund, update, actor = _find_refund(event), event.refund, Actor.provider(event.provider)
    if update.status == "succeeded":
        refund_mark_succeeded(refund=refund, actor=actor, provider_refund_id=update.provider_refund_id)
    elif update.status == "failed":
        refund_mark_failed(refund=refund, actor=actor, reason=update.failure_reason,
                           provider_refund_id=update.provider_refund_id)


def _apply_settlement(event: GatewayEvent) -> None:
    from payments.settlement import settlement_mark

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


def inbound_webhook_process(*, webhook_id: int) -> str:
    """Apply one stored, valid webhook, once. Returns the row's status afterwards.

    Holds the row lock (select_for_update, skip_locked) for the whole run, so a duplicate
    task, the stale-row sweep or a staff reprocess at the same moment skips instead of
    running the handler twice. A failing handler's changes roll back; the row is left
    failed with the error, for the retry or for staff.
    """
    runnable = [InboundWebhook.Status.RECEIVED, InboundWebhook.Status.FAILED]
    try:
        with transaction.atomic():
            row = (InboundWebhook.objects.select_for_update(skip_locked=True)
                   .filter(pk=webhook_id, signature_valid=True, status__in=runnable).first())
            if row is None:
                return InboundWebhook.objects.filter(pk=webhook_id).values_list("status", flat=True).first() or ""
            event = get_provider(row.provider).read_event(row.body.encode("utf-8"), row.headers)
            handler = HANDLERS.get(event.type)
            if handler is not None:
                handler(event)
            row.status = InboundWebhook.Status.PROCESSED if handler else InboundWebhook.Status.IGNORED
            row.attempts, row.processed_at, row.error = row.attempts + 1, timezone.now(), ""
            row.save(update_fields=["status", "attempts", "processed_at", "error"])
            return row.status
    except RetryLater as exc:
        if _mark_failed(webhook_id, str(exc)) < MAX_PROCESS_ATTEMPTS:
            _retry_later(webhook_id)
        return InboundWebhook.Status.FAILED
    except Exception as exc:  # noqa: BLE001 - keep the evidence; staff can reprocess
        log.exception("webhook processing failed", extra={"webhook": webhook_id})
        _mark_failed(webhook_id, f"{exc.__class__.__name__}: {exc}")
        return InboundWebhook.Status.FAILED


def _mark_failed(webhook_id: int, error: str) -> int:
    """Record a failed attempt (outside the rolled-back transaction); returns attempts so far."""
    InboundWebhook.objects.filter(pk=webhook_id).update(status=InboundWebhook.Status.FAILED, error=error[:500],
                                                        attempts=F("attempts") + 1)
    return InboundWebhook.objects.values_list("attempts", flat=True).get(pk=webhook_id)


def inbound_webhooks_requeue_stale(*, provider: str, older_than_seconds: int = 60, limit: int = 100) -> int:
    """Queue again valid rows still "received" after a while (their enqueue was lost,
    e.g. the broker was down). Run by the gateway monitor tick; duplicates are harmless."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(InboundWebhook.objects.filter(provider=provider, signature_valid=True,
                                             status=InboundWebhook.Status.RECEIVED, received_at__lt=cutoff)
               .order_by("received_at").values_list("pk", flat=True)[:limit])
    for webhook_id in ids:
        _enqueue(webhook_id)
    return len(ids)


def _retry_later(webhook_id: int) -> None:
    from config.celery_app import app
    from payments.tasks import process_inbound_webhook

    if app.conf.task_always_eager:
        return  # inline (tests, no broker): the next delivery or a reprocess picks it up
    process_inbound_webhook.apply_async((webhook_id,), countdown=RETRY_COUNTDOWN_SECONDS)


def inbound_webhook_reprocess(*, webhook_id: int, actor: Actor | None = None) -> str:
    """Staff: process a stored row again, now, and return its new status.

    For a failed attempt or after a fix; a processed row runs again harmlessly (every
    handler is idempotent). A row whose signature did not verify never runs.
    """
    webhook = InboundWebhook.objects.get(pk=webhook_id)
    if not webhook.signature_valid:
        from payments.services import PaymentStateError

        raise PaymentStateError("A webhook whose signature did not verify cannot be processed.")
    InboundWebhook.objects.filter(pk=webhook_id).update(status=InboundWebhook.Status.RECEIVED, error="")
    log.info("webhook reprocess", extra={"webhook": webhook_id, **(actor.describe() if actor else {})})
    return inbound_webhook_process(webhook_id=webhook_id)

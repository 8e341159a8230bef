"""The inbound webhook pipeline for the gateways (Razorpay, CoinPay).

receive (in the request): verify the HMAC over the raw body, store the row in its
own autocommit insert (so a later failure keeps the evidence), answer fast, and
after commit kick a coalesced drain (with Redis) or queue one task per row (without).
The partial unique index on (provider, event_id) for valid rows is the de-duplication:
a replay inserts nothing (ON CONFLICT DO NOTHING / IntegrityError) → 200, nothing queued.
process (in a task): read the stored body and dispatch by event type to a handler that
calls one service (observation_apply, refund_mark_*, settlement_mark).
"""
from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Mapping
from datetime import timedelta
from functools import cache

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.http.request import HttpHeaders
from django.utils import timezone

from config.api import error_body
from config.celery_app import app, publish, task_named
from config.inserts import insert_unless_conflict
from config.outage import DATABASE_ERRORS
from config.redis import redis_client
from orders.actors import Actor
from payments.metrics import WEBHOOKS_RECEIVED
from payments.models import InboundWebhook
from payments.providers.gateway_events import UnprocessableEvent, json_object
from payments.providers.registry import get_provider
from payments.services import PaymentStateError
from payments.webhook_handlers import HANDLERS, RetryLater
from sellers.api_auth import rate_exceeded

log = logging.getLogger("kassa.webhooks")

GATEWAYS = ("razorpay", "coinpay")
# Kept for audit and for re-reading; never auth or cookie headers.
KEPT_HEADERS = ("content-type", "user-agent", "x-razorpay-signature", "x-razorpay-event-id",
                "x-signature", "x-event-id")
# Bytes kept of a body whose signature did not verify (enough to see what was sent).
INVALID_BODY_PREFIX = 4096
MAX_PROCESS_ATTEMPTS = 5
RETRY_COUNTDOWN_SECONDS = 30


_ENVIRON_KEYS = {name: "CONTENT_TYPE" if name == "content-type" else f"HTTP_{name.upper().replace('-', '_')}"
                 for name in KEPT_HEADERS}


def kept_headers(environ: Mapping[str, str]) -> dict:
    """The kept headers (lower-case names) straight from a WSGI environ: all that
    verification and storage need, without building request.headers from every header."""
    return {name: value for name, key in _ENVIRON_KEYS.items() if (value := environ.get(key)) is not None}


def _kept(headers: Mapping[str, str]) -> dict:
    # Values are stored as evidence even when forged, so they must be storable (no NUL).
    if isinstance(headers, HttpHeaders):  # case-insensitive: look up the few kept names (hot path)
        return {name: _storable(value) for name in KEPT_HEADERS if (value := headers.get(name)) is not None}
    return {key.lower(): _storable(value) for key, value in headers.items() if key.lower() in KEPT_HEADERS}


def _text(body: bytes) -> str:
    return _storable(body.decode("utf-8", "replace"))


def _storable(value: str) -> str:
    """PostgreSQL text cannot hold NUL: keep the evidence with NUL shown as U+FFFD."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def _metric(provider: str, valid: bool) -> None:
    _received_counter(provider, valid).inc()


@cache
def _received_counter(provider: str, valid: bool):
    """The labelled child, looked up once (labels() validates and locks on every call)."""
    return WEBHOOKS_RECEIVED.labels(provider, "yes" if valid else "no")


def inbound_webhook_receive(provider: str, body: bytes, headers: Mapping[str, str], *,
                            client_ip: str = "") -> tuple[int, dict]:
    """Store, verify and queue one delivery. Returns (HTTP status, JSON body).

    400 bad signature (stored as invalid, body cut to a prefix) or malformed JSON, 413 too large,
    429 too many bad signatures from client_ip (not stored), 200 accepted or duplicate.
    Must not run inside a transaction: the insert is the durable record even if processing later fails.
    """
    if provider not in GATEWAYS:
        return 404, error_body("not_found", "Unknown provider.")
    if len(body) > settings.MAX_REQUEST_BODY_BYTES:
        return 413, error_body("payload_too_large", f"Body is larger than {settings.MAX_REQUEST_BODY_BYTES} bytes.")
    gateway = get_provider(provider)
    valid = gateway.webhook_signature_valid(body, headers)
    _metric(provider, valid)
    evidence = {"body_bytes": len(body), "body_sha256": hashlib.sha256(body).hexdigest()}
    if not valid:
        if rate_exceeded("webhook_invalid", client_ip or "unknown", settings.INBOUND_INVALID_RATE) is not None:
            log.warning("webhook throttled", extra={"provider": provider, "client_ip": client_ip})
            return 429, error_body("throttled", "Too many webhooks with a bad signature from this address.")
        event_id = _storable(gateway.webhook_event_id(body, headers))
        InboundWebhook.objects.create(provider=provider, event_id=event_id, signature_valid=False,
                                      headers=_kept(headers), body=_text(body[:INVALID_BODY_PREFIX]),
                                      status=InboundWebhook.Status.INVALID, error="signature did not verify",
                                      **evidence)
        log.warning("webhook rejected", extra={"provider": provider, "event_id": event_id, "reason": "signature"})
        return 400, error_body("signature_invalid", "The webhook signature did not verify.")
    try:
        event = gateway.read_event(body, headers)  # the one JSON parse of the request
    except UnprocessableEvent as exc:
        return _keep_unprocessable(provider, body, headers, evidence, str(exc))
    except (ValueError, UnicodeDecodeError):
        InboundWebhook.objects.create(provider=provider, event_id=f"malformed:{uuid.uuid4().hex}",
                                      headers=_kept(headers), body=_text(body), status=InboundWebhook.Status.FAILED,
                                      error="malformed JSON", **evidence)
        return 400, error_body("malformed_json", "The webhook body is not a JSON object.")
    webhook_id = _insert_unless_duplicate({
        "provider": provider, "event_id": _storable(event.event_id), "event_type": _storable(event.type[:60]),
        "signature_valid": True, "headers": _kept(headers), "body": _text(body), "received_at": timezone.now(),
        **evidence,
    })
    if webhook_id is None:
        if log.isEnabledFor(logging.INFO):
            log.info("webhook duplicate", extra={"provider": provider, "event_id": event.event_id})
        return 200, {"received": True, "duplicate": True}
    transaction.on_commit(lambda: _enqueue_after_commit(webhook_id))
    return 200, {"received": True}


def _keep_unprocessable(provider: str, body: bytes, headers: Mapping[str, str], evidence: dict,
                        reason: str) -> tuple[int, dict]:
    """A signed event we cannot apply: stored failed for staff with the reason, answered 200 so the
    gateway does not resend it (a resend could not fare better); its event id still de-duplicates."""
    gateway = get_provider(provider)
    event_type = json_object(body).get("event")
    webhook_id = _insert_unless_duplicate({
        "provider": provider, "event_id": _storable(gateway.webhook_event_id(body, headers)),
        "event_type": _storable(str(event_type or "")[:60]), "signature_valid": True, "headers": _kept(headers),
        "body": _text(body), "received_at": timezone.now(), "status": InboundWebhook.Status.FAILED,
        "error": f"unprocessable: {reason}"[:500], **evidence,
    })
    log.warning("webhook unprocessable", extra={"provider": provider, "webhook": webhook_id, "reason": reason})
    return 200, {"received": True, "duplicate": webhook_id is None}


def _insert_unless_duplicate(values: dict) -> int | None:
    """INSERT the row (one round trip, durable before we answer); its id, or None when the
    partial unique index says this valid event id is already stored (no exception, so no
    savepoint when a caller holds a transaction)."""
    row = InboundWebhook(**values)
    return row.pk if insert_unless_conflict(row) else None


# --- queueing: a coalesced "kick" instead of one Celery message per event ---------------
#
# Building and publishing a Celery message costs about a millisecond of CPU, more than
# the rest of the request. With Redis, a request instead tries `SET kick NX PX window`;
# only the winner publishes ONE drain task, due when the key expires. Every row committed
# while the key is held was committed before its request's SET failed, hence before the
# key expired, hence before that drain starts: the drain sees it. A lost message or a
# crashed drain leaves rows "received"; the gateway monitor re-queues those (requeue_stale).
# Without Redis (laptops: filesystem broker) or when tasks run inline, one task per row.

KICK_KEY = "kassa:webhook-kick"
KICK_WINDOW_MS = 250  # a drain per window: processing starts within ~¼ s, and publishing stays rare
KICK_MARGIN_MS = 20  # the drain is due a little after the key expires (clock slack)
DRAIN_BATCH = 100
DRAIN_MAX_ROWS = 2000  # then hand over to a fresh task so one drain never runs for ever
PROCESS_TASK = "payments.tasks.process_inbound_webhook"
DRAIN_TASK = "payments.tasks.process_pending_webhooks"


def _coalesce() -> bool:
    return bool(settings.REDIS_URL) and not app.conf.task_always_eager


def _enqueue_after_commit(webhook_id: int) -> None:
    try:
        if _coalesce():
            webhooks_kick()
        else:
            _enqueue(webhook_id)
    except Exception:  # noqa: BLE001 - broker down: the row stays "received" for the sweep/reprocess
        log.exception("webhook enqueue failed", extra={"webhook": webhook_id})


_covered_until = 0.0  # monotonic time until which a drain is known to be due after it (per process)


def webhooks_kick() -> bool:
    """Publish one drain task unless one is already due in this window. True if published.

    One Redis round trip per process per window rather than per request: the answer
    (ours or someone else's key, with its remaining TTL) tells us until when any commit
    of ours is covered by a drain that starts later, so until then we skip Redis.
    """
    global _covered_until
    asked = time.monotonic()
    if asked < _covered_until:
        return False
    pipe = redis_client().pipeline(transaction=False)
    won, ttl_ms = pipe.set(KICK_KEY, b"1", nx=True, px=KICK_WINDOW_MS).pttl(KICK_KEY).execute()
    if won:
        task_named(DRAIN_TASK).apply_async(countdown=(KICK_WINDOW_MS + KICK_MARGIN_MS) / 1000)
    # The key expires no earlier than asked + ttl; its drain is due KICK_MARGIN_MS after that.
    _covered_until = asked + max(ttl_ms, 0) / 1000
    return bool(won)


def _enqueue(webhook_id: int) -> None:
    # Broker down: the row stays "received" for the monitor's sweep or a reprocess.
    transaction.on_commit(lambda: publish(PROCESS_TASK, webhook_id))


def inbound_webhooks_drain(*, batch_size: int = DRAIN_BATCH, max_rows: int = DRAIN_MAX_ROWS) -> int:
    """Process valid "received" rows, oldest first, until none is left; returns rows processed here.

    Walks the ids upwards in batches; each row is claimed with its own row lock
    (skip_locked), so two drains at once (or a drain and a per-row task) never
    process a row twice: the loser skips it. Each drain starts from the lowest id,
    so a row that committed late with a low id is still seen by the next drain.
    """
    done, after = 0, 0
    pending = InboundWebhook.objects.filter(signature_valid=True, status=InboundWebhook.Status.RECEIVED)
    while done < max_rows:
        ids = list(pending.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            return done
        for webhook_id in ids:
            done += _process(webhook_id, runnable=(InboundWebhook.Status.RECEIVED,)) is not None
        after = ids[-1]
    if _coalesce():
        webhooks_kick()  # rows may be left: a fresh task continues
    return done


# --- processing ------------------------------------------------------------------------

def inbound_webhook_process(*, webhook_id: int) -> str:
    """Apply one stored, valid webhook, once. Returns the row's status afterwards.

    Holds the row lock (select_for_update, skip_locked) for the whole run, so a duplicate
    task, the stale-row sweep or a staff reprocess at the same moment skips instead of
    running the handler twice. A failing handler's changes roll back; the row is left
    failed with the error, for the retry or for staff.
    """
    status = _process(webhook_id, runnable=(InboundWebhook.Status.RECEIVED, InboundWebhook.Status.FAILED))
    if status is None:
        return InboundWebhook.objects.filter(pk=webhook_id).values_list("status", flat=True).first() or ""
    return status


def _process(webhook_id: int, *, runnable: tuple[str, ...]) -> str | None:
    """Run one row if it is valid, in `runnable` and not locked by someone else; None when skipped."""
    try:
        with transaction.atomic():
            row = (InboundWebhook.objects.select_for_update(skip_locked=True)
                   .filter(pk=webhook_id, signature_valid=True, status__in=runnable).first())
            if row is None:
                return None
            event = get_provider(row.provider).read_event(row.body.encode("utf-8"), row.headers)
            handler = HANDLERS.get(event.type)
            if handler is not None:
                handler(event)
            row.status = InboundWebhook.Status.PROCESSED if handler else InboundWebhook.Status.IGNORED
            row.attempts, row.processed_at, row.error, row.retry_at = row.attempts + 1, timezone.now(), "", None
            row.save(update_fields=["status", "attempts", "processed_at", "error", "retry_at"])
            return row.status
    except UnprocessableEvent as exc:  # staff see the reason in the review queue; retrying cannot help
        log.warning("webhook unprocessable", extra={"webhook": webhook_id, "reason": str(exc)})
        _mark_failed(webhook_id, f"unprocessable: {exc}")
        return InboundWebhook.Status.FAILED
    except (RetryLater, *DATABASE_ERRORS) as exc:
        # Waiting on something not recorded yet, or the database lost mid-work (a restart, a
        # deadlock): both pass by themselves, so the row is tried again rather than left for a person.
        log.warning("webhook processing will be retried", extra={"webhook": webhook_id,
                                                                 "error": exc.__class__.__name__})
        error = str(exc) if isinstance(exc, RetryLater) else f"{exc.__class__.__name__}: {exc}"
        attempts = _mark_failed(webhook_id, error)
        if attempts < MAX_PROCESS_ATTEMPTS:
            _retry_later(webhook_id, attempts)
        return InboundWebhook.Status.FAILED
    except Exception as exc:  # noqa: BLE001 - keep the evidence; staff can reprocess
        log.exception("webhook processing failed", extra={"webhook": webhook_id})
        _mark_failed(webhook_id, f"{exc.__class__.__name__}: {exc}")
        return InboundWebhook.Status.FAILED


def _mark_failed(webhook_id: int, error: str) -> int:
    """Record a failed attempt (outside the rolled-back transaction), with no retry due; returns attempts so far."""
    InboundWebhook.objects.filter(pk=webhook_id).update(status=InboundWebhook.Status.FAILED, error=error[:500],
                                                        attempts=F("attempts") + 1, retry_at=None)
    return InboundWebhook.objects.values_list("attempts", flat=True).get(pk=webhook_id)


def inbound_webhooks_requeue_stale(*, provider: str, older_than_seconds: int = 60, limit: int = 100) -> int:
    """Queue again valid rows still "received" after a while (their enqueue was lost, e.g. the
    broker was down), and failed rows whose retry is overdue by as long (the broker lost the retry's
    message: a restart, or down when it was published). Run by the gateway monitor tick; duplicates
    are harmless."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    waiting = (Q(status=InboundWebhook.Status.RECEIVED, received_at__lt=cutoff)
               | Q(status=InboundWebhook.Status.FAILED, retry_at__lt=cutoff))
    ids = list(InboundWebhook.objects.filter(waiting, provider=provider, signature_valid=True)
               .order_by("received_at").values_list("pk", flat=True)[:limit])
    for webhook_id in ids:
        _enqueue(webhook_id)
    return len(ids)


def inbound_webhooks_purge_invalid(*, older_than_days: int) -> int:
    """Delete rows whose signature did not verify, received more than older_than_days ago."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted, _ = InboundWebhook.objects.filter(signature_valid=False, received_at__lt=cutoff).delete()
    return deleted


def retry_countdown(attempts: int) -> int:
    """Seconds before the next try: 30, 60, 120, 240. Each wait doubles, so the 5 attempts span
    7.5 minutes, long enough to ride out a database restart or failover."""
    return RETRY_COUNTDOWN_SECONDS * 2 ** max(attempts - 1, 0)


def _retry_later(webhook_id: int, attempts: int) -> None:
    """Note when the retry is due, then publish it; a lost message is re-queued by the monitor."""
    countdown = retry_countdown(attempts)
    InboundWebhook.objects.filter(pk=webhook_id).update(retry_at=timezone.now() + timedelta(seconds=countdown))
    if app.conf.task_always_eager:
        return  # inline (tests, no broker): the monitor's sweep, the next delivery or a reprocess picks it up
    publish(PROCESS_TASK, webhook_id, countdown=countdown)  # lost: the monitor re-queues it once overdue


def inbound_webhook_reprocess(*, webhook_id: int, actor: Actor | None = None) -> str:
    """Staff: process a stored row again, now, and return its new status.

    For a failed attempt or after a fix; a processed row runs again harmlessly (every
    handler is idempotent). A row whose signature did not verify never runs.
    """
    webhook = InboundWebhook.objects.get(pk=webhook_id)
    if not webhook.signature_valid:
        raise PaymentStateError("A webhook whose signature did not verify cannot be processed.")
    InboundWebhook.objects.filter(pk=webhook_id).update(status=InboundWebhook.Status.RECEIVED, error="")
    log.info("webhook reprocess", extra={"webhook": webhook_id, **(actor.describe() if actor else {})})
    return inbound_webhook_process(webhook_id=webhook_id)

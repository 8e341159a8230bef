"""Idempotency-Key for API POSTs (README "REST API v1").

Per seller and key we store a hash of the request. The same key with the same
request replays the first response (status and body); with a different request it
is a 409. Only successful (2xx) responses are kept: after an error nothing of the key
remains, so the client can fix the request and retry. Keys expire after 24 h
(sellers.tasks.purge_expired_idempotency_keys deletes them). Two ways to hold a key:

- **One transaction** (`atomic_when` says so for this request): for work that only
  writes to the database (creating an order, starting a Nano payment). The key row,
  with the response, is inserted in the same transaction as the work, so both commit
  or neither does; a crash can leave no half-done key. A concurrent twin's insert waits
  on the unique index until the first commits, then finds the key taken, rolls back its
  own work and replays the first response.
- **In-progress marker** (the default): for work that calls out to a provider (refunds,
  gateway payment starts), which must not run inside a held transaction. The key row is
  inserted and committed *before* the work with response_status NULL; a twin finds it,
  waits briefly for the winner, then replays (or gets 409 while the winner still runs).
"""
from __future__ import annotations

import functools
import hashlib
import json
import time
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from config.api import error_body
from config.inserts import insert_unless_conflict
from sellers.models import IdempotencyKey

HEADER = "Idempotency-Key"
KEY_TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255
# A marker older than this belongs to a request that died mid-flight: it may be reclaimed.
STALE_MARKER = timedelta(minutes=5)
WAIT_SECONDS = 3.0
POLL_SECONDS = 0.05

OPENAPI_PARAMETER = OpenApiParameter(
    HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="Any unique string (≤ 255 characters, e.g. a UUID). Retrying with the same key and body "
                "replays the first response for 24 h; the same key with a different body gets 409.",
)


def request_fingerprint(request) -> str:
    """SHA-256 of method, path and the parsed body in canonical form (key order and
    whitespace do not matter)."""
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), cls=JSONEncoder)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _conflict(code: str, message: str) -> Response:
    return Response(error_body(code, message, {"Idempotency-Key": [message]}), status=409)


def _replay(row: IdempotencyKey) -> Response:
    response = Response(row.response_body, status=row.response_status)
    response["Idempotent-Replayed"] = "true"
    return response


def _claim(seller, key: str, fingerprint: str, request) -> IdempotencyKey | None:
    """Insert the in-progress marker; None when another request holds the key."""
    # In autocommit the INSERT commits by itself (visible to a concurrent twin at once).
    # ON CONFLICT DO NOTHING: a twin's claim never aborts a surrounding transaction.
    row = IdempotencyKey(seller=seller, key=key, request_hash=fingerprint, method=request.method,
                         path=request.path[:255])
    return row if insert_unless_conflict(row) else None


def _existing(seller, key: str) -> IdempotencyKey | None:
    return IdempotencyKey.objects.filter(seller=seller, key=key).first()


def _expired_or_abandoned(row: IdempotencyKey, now) -> bool:
    if row.created_at < now - KEY_TTL:
        return True
    return row.response_status is None and row.created_at < now - STALE_MARKER


def _wait_for(row: IdempotencyKey) -> IdempotencyKey | None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        current = IdempotencyKey.objects.filter(pk=row.pk).first()
        if current is None or current.response_status is not None:
            return current
    return row


def _store(row: IdempotencyKey, response) -> None:
    if 200 <= response.status_code < 300:
        row.response_status = response.status_code
        row.response_body = json.loads(json.dumps(response.data, cls=JSONEncoder))
        IdempotencyKey.objects.filter(pk=row.pk).update(response_status=row.response_status,
                                                        response_body=row.response_body)
    else:
        IdempotencyKey.objects.filter(pk=row.pk, response_status__isnull=True).delete()


_RETRY = object()


def _taken_answer(existing: IdempotencyKey | None, fingerprint: str):
    """What a request that found its key taken does next: _RETRY when the row is gone or
    was stale (and is deleted now), None while its holder is still running, else the
    response to give (a replay, or 409 for a different request)."""
    if existing is None:
        return _RETRY  # deleted between our insert and read (failed or expired)
    if _expired_or_abandoned(existing, timezone.now()):
        IdempotencyKey.objects.filter(pk=existing.pk, created_at=existing.created_at).delete()
        return _RETRY
    if existing.request_hash != fingerprint:
        return _conflict("idempotency_key_reused", f"This {HEADER} was already used with a different request.")
    if existing.response_status is None:
        return None
    return _replay(existing)


def _in_progress() -> Response:
    return _conflict("idempotency_key_in_progress",
                     f"A request with this {HEADER} is still being processed; retry shortly.")


def _recorded(seller, key: str, fingerprint: str, request, response) -> Response | None:
    """Insert the key with its response inside the caller's transaction. None when it went
    in; otherwise the response this request must give instead (a replay or a 409), and the
    caller rolls its work back."""
    body = json.loads(json.dumps(response.data, cls=JSONEncoder))
    for _attempt in range(3):
        row = IdempotencyKey(seller=seller, key=key, request_hash=fingerprint, method=request.method,
                             path=request.path[:255], response_status=response.status_code, response_body=body)
        # Waits while a twin's insert of this key is uncommitted; then conflicts or goes in.
        if insert_unless_conflict(row):
            return None
        answer = _taken_answer(_existing(seller, key), fingerprint)
        if answer is not _RETRY:
            return answer or _in_progress()
    return _in_progress()


def _in_one_transaction(view_method, view, request, args, kwargs, seller, key, fingerprint) -> Response:
    # An exception from the work rolls everything back (DRF then turns it into the error
    # response), so the services' own blocks inside set no savepoints (savepoint=False).
    # Durable: key and work commit here, never as part of some caller's larger transaction.
    with transaction.atomic(durable=True):
        response = view_method(view, request, *args, **kwargs)
        if not 200 <= response.status_code < 300:
            transaction.set_rollback(True)  # as for an exception: an error keeps nothing
            return response
        instead = _recorded(seller, key, fingerprint, request, response)
        if instead is not None:
            transaction.set_rollback(True)  # a twin holds the key: its response stands, our work goes
            return instead
        return response


def _with_marker(view_method, view, request, args, kwargs, seller, key, fingerprint) -> Response:
    row = None
    for _attempt in range(3):
        row = _claim(seller, key, fingerprint, request)
        if row is not None:
            break
        existing = _existing(seller, key)
        answer = _taken_answer(existing, fingerprint)
        if answer is _RETRY:
            continue
        if answer is not None:
            return answer
        existing = _wait_for(existing)  # its holder is still running
        if existing is None:
            continue  # the first request failed: this one may try
        return _in_progress() if existing.response_status is None else _replay(existing)
    if row is None:
        return _conflict("idempotency_key_in_progress", f"Could not claim this {HEADER}; retry shortly.")
    try:
        response = view_method(view, request, *args, **kwargs)
    except BaseException:
        IdempotencyKey.objects.filter(pk=row.pk, response_status__isnull=True).delete()
        raise
    _store(row, response)
    return response


def idempotent(view_method=None, *, atomic_when=None):
    """Decorate an APIView's post(self, request, ...) to honour Idempotency-Key.

    atomic_when(request, **url_kwargs) -> bool: True when this request's work only writes
    to the database, so the key can commit in the same transaction (see the module doc).
    """
    if view_method is None:
        return functools.partial(idempotent, atomic_when=atomic_when)

    @functools.wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view_method(self, request, *args, **kwargs)
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH:
            message = f"{HEADER} must be 1–{MAX_KEY_LENGTH} characters."
            return Response(error_body("invalid_request", message, {HEADER: [message]}), status=400)
        fingerprint = request_fingerprint(request)  # parses the body: malformed JSON is a 400 here
        held = _in_one_transaction if atomic_when is not None and atomic_when(request, **kwargs) else _with_marker
        return held(view_method, self, request, args, kwargs, request.user.seller, key, fingerprint)

    return wrapper

"""One Nano monitor tick: the database side of the batched scan.

1. ONE query: the distinct addresses with reserved payments (and each one's oldest
   reservation, which decides what is pre-existing at an address's first read);
2. their stored frontiers and baselines (NanoCursor: money that predates the watch is
   never matched to a payment, see payments.providers.nano.WatchedAccount);
3. the provider's scan (RPC only; a node that is down raises and nothing changes);
4. facts we already settled (confirmed/failed receipts) are skipped in bulk, the
   rest go through observation_apply, which is idempotent;
5. moved frontiers are stored, except for an address whose facts failed to apply
   (so the next tick reads it again), and so are the baselines of first reads;
6. (full ticks only) the rows of addresses with no reserved payment left are deleted, so an
   address watched again later takes a new baseline instead of trusting an old cursor.

Safe to run twice at once: a cache lock usually keeps the second one out, and
correctness never depends on it (receipts are unique by transaction hash).

`check_addresses()` is the same tick for a few addresses, at once and without the lock:
the websocket listener (payments/nano_listener.py) calls it when the node reports a
confirmation touching one of them, so a beat tick in progress does not delay it, and so does
a shopper's "I've paid" without a block hash (payments/checks.py).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import timedelta

from django.core.cache import cache
from django.db.models import Exists, Min, OuterRef, Q
from django.utils import timezone

from config.redis import REDIS_ERRORS, redis_failed, redis_skipped
from orders.actors import Actor
from payments.metrics import MONITOR_RPC_CALLS
from payments.models import NanoCursor, Payment, Receipt
from payments.monitor_nano_refunds import tick as refunds_tick
from payments.providers.nano import CODE, WatchedAccount, chunked
from payments.providers.registry import get_provider
from payments.services import observation_apply

log = logging.getLogger("kassa.monitor.nano")

LOCK_KEY = "kassa:monitor:nano"
LOCK_SECONDS = 120     # longer than any sane tick; a crashed holder frees it by expiry
DB_CHUNK = 1000        # rows per IN (...) query
CHECKED_RESOLUTION = timedelta(minutes=5)  # how stale NanoCursor.checked_at may get before a tick rewrites it


def _reserved():
    return Payment.objects.filter(method=CODE, amount_reserved=True).exclude(pay_to="")


def watched_addresses() -> set[str]:
    """The addresses that have reserved payments (what the websocket listener subscribes to)."""
    return set(_reserved().values_list("pay_to", flat=True).distinct())


def watched_accounts(only: Iterable[str] | None = None) -> list[WatchedAccount]:
    """Addresses with reserved payments (all, or those of `only`), their cursors and oldest reservation time."""
    reserved = _reserved() if only is None else _reserved().filter(pay_to__in=sorted(only))
    rows = list(
        reserved.values("pay_to").annotate(since=Min("created_at")).order_by("pay_to")
    )
    cursors: dict[str, tuple[str, frozenset[str] | None]] = {}
    for chunk in chunked([row["pay_to"] for row in rows], DB_CHUNK):
        for address, frontier, baseline_at, preexisting in NanoCursor.objects.filter(address__in=chunk).values_list(
                "address", "frontier", "baseline_at", "preexisting"):
            cursors[address] = (frontier, None if baseline_at is None else frozenset(preexisting))
    accounts = []
    for row in rows:
        cursor, baseline = _cursor(cursors.get(row["pay_to"]))
        accounts.append(WatchedAccount(row["pay_to"], cursor, int(row["since"].timestamp()), baseline))
    return accounts


def _cursor(stored: tuple[str, frozenset[str] | None] | None) -> tuple[str, frozenset[str] | None]:
    # A row from before baselines existed has a cursor and no baseline: its cursor already bounds history.
    if stored is None:
        return "", None
    frontier, baseline = stored
    return frontier, baseline if baseline is not None or not frontier else frozenset()


def _unsettled(observations: list) -> list:
    """Drop facts whose receipt is already final: they would change nothing (saves a transaction each)."""
    settled: set[str] = set()
    ids = sorted({obs.external_tx_id for obs in observations})
    for chunk in chunked(ids, DB_CHUNK):
        settled.update(Receipt.objects.filter(provider=CODE, external_tx_id__in=chunk)
                       .exclude(state=Receipt.State.SEEN).values_list("external_tx_id", flat=True))
    seen: set[tuple[str, bool]] = set()
    fresh = []
    for obs in observations:
        if obs.external_tx_id in settled or (obs.external_tx_id, obs.confirmed) in seen:
            continue
        seen.add((obs.external_tx_id, obs.confirmed))
        fresh.append(obs)
    return fresh


def _store_cursors(cursors: dict[str, str], baselines: dict[str, list[str]]) -> None:
    now = timezone.now()
    if cursors:
        NanoCursor.objects.bulk_create(
            [NanoCursor(address=address, frontier=frontier, updated_at=now) for address, frontier in cursors.items()],
            update_conflicts=True, unique_fields=["address"], update_fields=["frontier", "updated_at"],
            batch_size=DB_CHUNK,
        )
    if baselines:
        NanoCursor.objects.bulk_create(
            [NanoCursor(address=address, baseline_at=now, preexisting=hashes, updated_at=now)
             for address, hashes in baselines.items()],
            update_conflicts=True, unique_fields=["address"],
            update_fields=["baseline_at", "preexisting", "updated_at"],
            batch_size=DB_CHUNK,
        )


def _mark_read(addresses: list[str], began) -> None:
    """A scan that began at `began` read these addresses (payments.services.expiry releases a slot
    only after such a scan, so nothing sent to it goes unseen). Rows are written at most once per
    CHECKED_RESOLUTION, not every tick: a release may wait that much longer, for far fewer writes."""
    stale = Q(checked_at__isnull=True) | Q(checked_at__lt=began - CHECKED_RESOLUTION)
    for chunk in chunked(addresses, DB_CHUNK):
        NanoCursor.objects.filter(stale, address__in=chunk).update(checked_at=began)


def _forget_unwatched() -> int:
    """Delete the rows of addresses with no reserved payment: what arrives while nobody watches
    is pre-existing for the next payment, which takes a new baseline."""
    # An anti-join probing the reserved-amount index per row: cost follows the rows kept, not the payments.
    return NanoCursor.objects.filter(~Exists(_reserved().filter(pay_to=OuterRef("address")))).delete()[0]


def tick(*, provider=None) -> dict:
    """Run one tick; returns a summary. Raises ProviderError (from the scan) when the node is down."""
    if not _lock():
        return {"skipped": "another tick is running"}
    try:
        provider = provider or get_provider(CODE)
        summary = _tick(provider)
        summary["forgotten"] = _forget_unwatched()
        summary["refunds"] = refunds_tick(provider=provider)  # the sellers' refund sends
        return summary
    finally:
        _unlock()


def _lock() -> bool:
    """Take the beat lock; with Redis down the tick runs without it (the lock only saves work)."""
    if redis_skipped():
        return True
    try:
        return cache.add(LOCK_KEY, "1", LOCK_SECONDS)
    except REDIS_ERRORS as exc:
        redis_failed("monitor lock", exc)
        return True


def _unlock() -> None:
    try:
        cache.delete(LOCK_KEY)
    except REDIS_ERRORS as exc:
        redis_failed("monitor lock", exc)


def check_addresses(addresses: Iterable[str], *, provider=None) -> dict:
    """One tick for these addresses only (those without reserved payments are skipped)."""
    return _tick(provider or get_provider(CODE), only=set(addresses))


def _tick(provider, only: set[str] | None = None) -> dict:
    started, began = time.perf_counter(), timezone.now()
    accounts = watched_accounts(only)
    if not accounts:
        return {"addresses": 0, "rpc_calls": 0, "observations": 0, "applied": 0}
    scan = provider.scan(accounts)  # ProviderError propagates: nothing was written yet
    MONITOR_RPC_CALLS.labels(CODE).inc(scan.rpc_calls)
    fresh = _unsettled(scan.observations)
    found_at = time.perf_counter()
    actor = Actor.provider(CODE)
    applied, failed_addresses = 0, set()
    for observation in fresh:
        try:
            applied += observation_apply(observation=observation, actor=actor).changed
        except Exception:  # one bad fact must not block every other seller; its address is re-read
            log.exception("nano observation failed", extra={"tx": observation.external_tx_id,
                                                            "address": observation.pay_to})
            failed_addresses.add(observation.pay_to)
    # A baseline is stored even for a failed address: what it says predates the watch stays true.
    _store_cursors({a: f for a, f in scan.cursors.items() if a not in failed_addresses}, scan.baselines)
    _mark_read([account.address for account in accounts if account.address not in failed_addresses], began)
    summary = {
        "addresses": len(accounts), "rpc_calls": scan.rpc_calls, "history_reads": len(scan.history_reads),
        "observations": len(scan.observations), "preexisting": scan.preexisting, "new": len(fresh), "applied": applied,
        "failed": len(failed_addresses), "ms": round((time.perf_counter() - started) * 1000, 1),
        # Finding the money vs applying it (observation_apply, the same cost in any design).
        "find_ms": round((found_at - started) * 1000, 1), "apply_ms": round((time.perf_counter() - found_at) * 1000, 1),
    }
    log.info("nano monitor tick", extra=summary)
    return summary

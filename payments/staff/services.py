"""Writes that only staff make, composed from payments.services.

Each is idempotent: a second call changes nothing and says so through its return value.
"""
from __future__ import annotations

import logging
from collections import defaultdict

from django.utils import timezone

from orders.actors import Actor
from payments.models import InboundWebhook, Payment, Receipt, Refund, Settlement
from payments.providers.errors import ProviderError
from payments.providers.registry import get_provider
from payments.services import (
    PaymentStateError,
    observation_apply,
    payment_event_write,
    payment_refund,
    payment_resolve_review,
)
from payments.settlement import settle_coinpay, settle_razorpay
from payments.webhooks import inbound_webhook_reprocess
from webhooks.models import WebhookEndpoint
from webhooks.services import webhook_endpoint_enable

log = logging.getLogger("kassa.staff")


def payments_recheck(*, payments: list[Payment], actor: Actor) -> dict:
    """Ask each payment's provider about exactly these payments (one poll per method),
    apply what it reports through observation_apply, and record who asked.

    Returns {payment_id: "changed" | "unchanged" | "unavailable"}. A provider that is down
    changes nothing (never fail a payment because a call failed).
    """
    by_method: dict[str, list[Payment]] = defaultdict(list)
    for payment in payments:
        by_method[payment.method].append(payment)
    results: dict = {}
    for method, group in by_method.items():
        try:
            observations = get_provider(method).poll(group)
        except ProviderError as exc:
            log.warning("staff recheck: provider unavailable", extra={"method": method, "error": type(exc).__name__})
            for payment in group:
                results[payment.pk] = "unavailable"
            continue
        changed = {str(r.payment.pk) for r in (observation_apply(observation=o) for o in observations)
                   if r.changed and r.payment is not None}
        for payment in group:
            results[payment.pk] = "changed" if str(payment.pk) in changed else "unchanged"
    for payment in payments:
        payment_event_write(payment=payment, type="payment.rechecked", actor=actor,
                            data={"result": results[payment.pk]})
    return results


def payment_refund_duplicate(*, payment: Payment, actor: Actor) -> Refund | None:
    """Refund a `duplicate` payment in full and close its review.

    Returns the refund, or None when nothing was left to refund (already done). The review
    stays open if the provider refused the refund, so it is not lost.
    """
    if Payment.Exception_.DUPLICATE not in payment.exceptions:
        raise PaymentStateError("Only a payment flagged as a duplicate can be refunded from here.")
    refund = None
    if payment.status in ("completed", "partially_refunded"):
        try:
            refund = payment_refund(payment=payment, actor=actor, reason="duplicate payment")
        except PaymentStateError:
            refund = None  # a refund is already in flight for what is left
    if refund is None or refund.status != Refund.Status.FAILED:
        payment_resolve_review(payment=payment, actor=actor, note="duplicate refunded")
    return refund


def receipt_ignore(*, receipt: Receipt, actor: Actor) -> bool:
    """Close an unmatched receipt without attaching it (e.g. a test send). False if not open."""
    return bool(Receipt.objects.filter(pk=receipt.pk, payment__isnull=True, resolution=Receipt.Resolution.NONE)
                .update(resolution=Receipt.Resolution.IGNORED, resolved_by=actor.user, resolved_at=timezone.now(),
                        updated_at=timezone.now()))


def inbound_webhook_dismiss(*, webhook: InboundWebhook, actor: Actor) -> bool:
    """Take an invalid or failed webhook off the review queue, keeping it for audit."""
    return bool(InboundWebhook.objects.filter(pk=webhook.pk, reviewed_at__isnull=True)
                .update(reviewed_at=timezone.now(), reviewed_by=actor.user))


def inbound_webhook_reprocess_now(*, webhook: InboundWebhook, actor: Actor) -> str:
    """Run a stored webhook through processing again (the gateway code owns how)."""
    inbound_webhook_reprocess(webhook_id=webhook.pk)
    webhook.refresh_from_db()
    return webhook.status


def settlement_dismiss(*, settlement: Settlement, actor: Actor) -> bool:
    """Take a failed transfer/payout off the review queue (its ledger rows were already
    released, so the money is owed again). False if it is not an open failure."""
    return bool(Settlement.objects.filter(pk=settlement.pk, status=Settlement.Status.FAILED, reviewed_at__isnull=True)
                .update(reviewed_at=timezone.now(), reviewed_by=actor.user))


def settlement_retry(*, settlement: Settlement, actor: Actor) -> dict | None:
    """Run that method's settlement now (idempotent: it settles whatever is owed, the
    failed amount included), then close the failure. None if it is not an open failure."""
    if not Settlement.objects.filter(pk=settlement.pk, status=Settlement.Status.FAILED,
                                     reviewed_at__isnull=True).exists():
        return None
    run = {"razorpay": settle_razorpay, "coinpay": settle_coinpay}.get(settlement.method)
    summary = run() if run else {}
    settlement_dismiss(settlement=settlement, actor=actor)
    return summary


def webhook_endpoint_reenable(*, endpoint: WebhookEndpoint, actor: Actor) -> bool:
    """Turn a seller's disabled endpoint back on (its failure clock restarts). False if it is on."""
    if endpoint.is_active:
        return False
    webhook_endpoint_enable(endpoint=endpoint)
    return True

"""Staff actions: one definition each, used by the admin changelists and the review queue.

An action names the permission it needs, runs one service per object with
Actor.staff(user) (which writes the PaymentEvent), and reports an Outcome:
"done", "already" (a second click: nothing changed) or "refused" (not allowed
from the object's state). The runner adds Django's LogEntry and the messages.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied

from orders.actors import Actor
from payments import services
from payments.models import InboundWebhook, Payment, Receipt, Refund, Settlement
from payments.providers.errors import PaymentError
from payments.staff import services as staff_services
from payments.staff.confirm import confirmation_page, is_confirmed
from payments.staff.consequences import moves_money
from sellers.models import Seller
from sellers.services import seller_set_status
from webhooks.models import WebhookEndpoint


@dataclass(frozen=True)
class Outcome:
    status: str      # "done" | "already" | "refused"
    message: str


def done(message: str) -> Outcome:
    return Outcome("done", message)


def already(message: str) -> Outcome:
    return Outcome("already", message)


def refused(message: str) -> Outcome:
    return Outcome("refused", message)


@dataclass(frozen=True)
class StaffAction:
    code: str
    label: str
    model: type
    permission: str                      # "app_label.codename"
    run: Callable | None = None          # (obj, actor) -> Outcome
    run_batch: Callable | None = None    # (objs, actor) -> list[Outcome]: one provider call for many


# --- payments -----------------------------------------------------------------------

def _recheck(payments: list[Payment], actor: Actor) -> list[Outcome]:
    results = staff_services.payments_recheck(payments=payments, actor=actor)
    text = {"changed": "re-checked: new money applied", "unchanged": "re-checked: nothing new (already up to date)",
            "unavailable": "re-check failed: the provider is unavailable, nothing changed"}
    return [(done if results[p.pk] == "changed" else already if results[p.pk] == "unchanged" else refused)(
        f"{p}: {text[results[p.pk]]}") for p in payments]


def _expire(payment: Payment, actor: Actor) -> Outcome:
    if payment.status == Payment.Status.EXPIRED:
        return already(f"{payment}: already expired.")
    services.payment_expire_now(payment=payment, actor=actor)
    return done(f"{payment}: expired.")


def _refund(payment: Payment, actor: Actor) -> Outcome:
    if payment.status == Payment.Status.REFUNDED:
        return already(f"{payment}: already refunded.")
    if payment.status not in ("completed", "partially_refunded"):
        return refused(f"{payment}: only a completed payment can be refunded; this one is {payment.status}.")
    in_flight = sum(payment.refunds.filter(status__in=Refund.OPEN_STATUSES).values_list("amount", flat=True))
    if payment.amount - payment.refunded_amount - in_flight <= 0:
        return already(f"{payment}: a refund of the rest is already in flight.")
    refund = services.payment_refund(payment=payment, actor=actor, reason="staff refund")
    if refund.status == Refund.Status.FAILED:
        return refused(f"{payment}: the provider refused the refund: {refund.failure_reason}")
    return done(f"{payment}: refund {refund.get_status_display().lower()}.")


def _accept_late(payment: Payment, actor: Actor) -> Outcome:
    if payment.status in Payment.PAID_STATUSES and payment.review_status == Payment.Review.RESOLVED:
        return already(f"{payment}: late payment already accepted.")
    services.payment_accept_late(payment=payment, actor=actor)
    return done(f"{payment}: late payment accepted; the order is paid.")


def _refund_late(payment: Payment, actor: Actor) -> Outcome:
    if payment.status not in ("expired", "cancelled", "failed") or "paid_late" not in payment.exceptions:
        return refused(f"{payment}: only money that arrived late on a closed payment can be sent back here.")
    if payment.review_status != Payment.Review.OPEN:
        return already(f"{payment}: late payment already decided.")
    if payment.refunds.filter(status__in=Refund.OPEN_STATUSES).exists():
        return already(f"{payment}: a refund of the late money is already in flight.")
    refund = services.payment_refund(payment=payment, actor=actor, reason="late payment returned")
    if refund.status == Refund.Status.FAILED:
        return refused(f"{payment}: the provider refused the refund: {refund.failure_reason}")
    return done(f"{payment}: late money refunded ({refund.get_status_display().lower()}).")


def _refund_duplicate(payment: Payment, actor: Actor) -> Outcome:
    if payment.review_status != Payment.Review.OPEN and payment.status == Payment.Status.REFUNDED:
        return already(f"{payment}: duplicate already refunded.")
    refund = staff_services.payment_refund_duplicate(payment=payment, actor=actor)
    if refund is not None and refund.status == Refund.Status.FAILED:
        return refused(f"{payment}: the provider refused the refund: {refund.failure_reason}")
    return done(f"{payment}: duplicate refunded and review resolved.")


def _resolve(payment: Payment, actor: Actor) -> Outcome:
    if payment.review_status != Payment.Review.OPEN:
        return already(f"{payment}: review already resolved.")
    services.payment_resolve_review(payment=payment, actor=actor, note="resolved from the review queue")
    return done(f"{payment}: review resolved.")


# --- receipts, webhooks, sellers --------------------------------------------------------

def _ignore_receipt(receipt: Receipt, actor: Actor) -> Outcome:
    if staff_services.receipt_ignore(receipt=receipt, actor=actor):
        return done(f"Receipt {receipt}: ignored.")
    return already(f"Receipt {receipt}: already resolved.")


def _dismiss_webhook(webhook: InboundWebhook, actor: Actor) -> Outcome:
    if staff_services.inbound_webhook_dismiss(webhook=webhook, actor=actor):
        return done(f"Webhook {webhook}: dismissed.")
    return already(f"Webhook {webhook}: already dismissed.")


def _reprocess_webhook(webhook: InboundWebhook, actor: Actor) -> Outcome:
    if webhook.status == InboundWebhook.Status.PROCESSED:
        return already(f"Webhook {webhook}: already processed.")
    status = staff_services.inbound_webhook_reprocess_now(webhook=webhook, actor=actor)
    return done(f"Webhook {webhook}: reprocessed, now {status}.")


def _retry_settlement(settlement: Settlement, actor: Actor) -> Outcome:
    if settlement.status != Settlement.Status.FAILED or settlement.reviewed_at:
        return already(f"{settlement}: not an open failure (already retried or dismissed).")
    summary = staff_services.settlement_retry(settlement=settlement, actor=actor)
    if summary is None:
        return already(f"{settlement}: already retried or dismissed.")
    return done(f"{settlement}: {settlement.method} settlement run again ({summary}).")


def _dismiss_settlement(settlement: Settlement, actor: Actor) -> Outcome:
    if staff_services.settlement_dismiss(settlement=settlement, actor=actor):
        return done(f"{settlement}: dismissed; the amount stays owed to the seller.")
    return already(f"{settlement}: already retried or dismissed.")


def _enable_endpoint(endpoint: WebhookEndpoint, actor: Actor) -> Outcome:
    if staff_services.webhook_endpoint_reenable(endpoint=endpoint, actor=actor):
        return done(f"Endpoint {endpoint}: re-enabled.")
    return already(f"Endpoint {endpoint}: already enabled.")


def _seller_status(status: str, verb: str):
    def run(seller: Seller, actor: Actor) -> Outcome:
        if seller_set_status(seller=seller, status=status):
            return done(f"{seller}: {verb}.")
        return already(f"{seller}: already {verb}.")
    return run


ACTIONS: dict[str, StaffAction] = {a.code: a for a in [
    StaffAction("recheck", "Re-check now", Payment, "payments.recheck_payment", run_batch=_recheck),
    StaffAction("expire", "Expire now", Payment, "payments.expire_payment", _expire),
    StaffAction("refund", "Refund in full", Payment, "payments.refund_payment", _refund),
    StaffAction("accept_late", "Accept late payment", Payment, "payments.decide_late_payment", _accept_late),
    StaffAction("refund_late", "Refund late payment", Payment, "payments.decide_late_payment", _refund_late),
    StaffAction("refund_duplicate", "Mark duplicate refunded", Payment, "payments.refund_payment",
                _refund_duplicate),
    StaffAction("resolve", "Resolve review", Payment, "payments.decide_late_payment", _resolve),
    StaffAction("ignore_receipt", "Ignore receipt", Receipt, "payments.assign_receipt", _ignore_receipt),
    StaffAction("dismiss_webhook", "Dismiss", InboundWebhook, "payments.reprocess_webhook", _dismiss_webhook),
    StaffAction("reprocess_webhook", "Reprocess", InboundWebhook, "payments.reprocess_webhook", _reprocess_webhook),
    StaffAction("retry_settlement", "Retry settlement", Settlement, "payments.manage_settlements", _retry_settlement),
    StaffAction("dismiss_settlement", "Dismiss", Settlement, "payments.manage_settlements", _dismiss_settlement),
    StaffAction("enable_endpoint", "Re-enable endpoint", WebhookEndpoint, "payments.reprocess_webhook",
                _enable_endpoint),
    StaffAction("approve_seller", "Approve", Seller, "sellers.change_seller", _seller_status("active", "approved")),
    StaffAction("suspend_seller", "Suspend", Seller, "sellers.change_seller",
                _seller_status("suspended", "suspended")),
]}


def can_run(user, code: str) -> bool:
    return user.has_perm(ACTIONS[code].permission)


def run_staff_action(request, code: str, objects: Iterable) -> list[Outcome]:
    """Check the permission, run the action on each object, log and message the result."""
    action = ACTIONS[code]
    if not can_run(request.user, code):
        raise PermissionDenied(f"You may not {action.label.lower()}.")
    objects = list(objects)
    actor = Actor.staff(request.user)
    if action.run_batch:
        outcomes = action.run_batch(objects, actor)
    else:
        outcomes = []
        for obj in objects:
            try:
                outcomes.append(action.run(obj, actor))
            except PaymentError as exc:
                outcomes.append(refused(f"{obj}: {exc.user_message}"))
    model_admin = admin.site._registry.get(action.model)
    for obj, outcome in zip(objects, outcomes, strict=True):
        if outcome.status == "done" and model_admin is not None:
            model_admin.log_change(request, obj, f"{action.label}: {outcome.message}")
    _message(request, action, outcomes)
    return outcomes


def _message(request, action: StaffAction, outcomes: list[Outcome]) -> None:
    level = {"done": messages.SUCCESS, "already": messages.INFO, "refused": messages.WARNING}
    if len(outcomes) <= 5:
        for outcome in outcomes:
            messages.add_message(request, level[outcome.status], outcome.message)
        return
    counts = Counter(outcome.status for outcome in outcomes)
    messages.info(request, f"{action.label}: {counts['done']} done, {counts['already']} already done, "
                           f"{counts['refused']} refused.")
    for outcome in outcomes:
        if outcome.status == "refused":
            messages.warning(request, outcome.message)


# --- admin glue: the same actions on Django admin changelists ------------------------

class StaffActionsMixin:
    """Hide the staff actions a user may not run (run_staff_action checks again)."""

    def get_actions(self, request):
        actions = super().get_actions(request)
        return {name: value for name, value in actions.items() if name not in ACTIONS or can_run(request.user, name)}


def staff_action(code: str, description: str | None = None):
    """An admin action that runs the named staff action on the selected rows.

    One that moves money first answers with a confirmation page; its "Yes" posts the same
    selection again (without "index", Django's route for delete_selected's confirmation) plus
    confirmed=yes. The "…" in its label says a question follows.
    """
    label = description or ACTIONS[code].label

    def action(modeladmin, request, queryset):
        if moves_money(code) and not is_confirmed(request):
            if not can_run(request.user, code):
                raise PermissionDenied(f"You may not {ACTIONS[code].label.lower()}.")
            objects = list(queryset)
            return confirmation_page(
                request, code=code, label=ACTIONS[code].label, objects=objects, action_url=request.get_full_path(),
                hidden=[("action", code), *[(ACTION_CHECKBOX_NAME, str(obj.pk)) for obj in objects]],
                cancel_url=request.get_full_path())
        run_staff_action(request, code, queryset)
    action.__name__ = code
    return admin.action(description=f"{label}…" if moves_money(code) else label)(action)

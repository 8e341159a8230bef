"""Queueing and sending email through the outbox.

queue_email() is called by other apps' services inside the transaction that makes the change,
so the email exists exactly when the change does. Sending happens after commit, outside any
transaction: a row is claimed (queued → sending), handed to the SMTP backend, then marked sent.
A worker that dies between the SMTP send and the mark leaves the row "sending"; the sweep
reclaims it after SENDING_LEASE and sends it again with the same Message-ID (at-least-once).
"""
from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone

from config.celery_app import publish
from config.inserts import insert_unless_conflict
from notifications.kinds import SELLER_KINDS
from notifications.models import OutboxEmail, SellerEmailSettings
from sellers.models import Seller

log = logging.getLogger("kassa.email")

MAX_ATTEMPTS = 6
SENDING_LEASE = timedelta(minutes=5)


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, … capped at an hour."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def email_render(template: str, context: dict) -> tuple[str, str]:
    """(text, html) from templates/email/<template>.txt and .html."""
    context = {"site_url": settings.SITE_URL, **context}
    return render_to_string(f"email/{template}.txt", context), render_to_string(f"email/{template}.html", context)


def queue_email(*, kind: str, key: str, to: list[str], subject: str, template: str, context: dict,
                seller: Seller | None = None, attachments: list[dict] | None = None) -> OutboxEmail | None:
    """Render and queue one email; call it inside the transaction of the change that causes it.

    A key already queued is a no-op (None), as is an empty recipient list. The send is
    scheduled after commit; the sweep picks the row up later if that never happens."""
    to = sorted({address.strip() for address in to if address and address.strip()})
    if not to:
        return None
    text, html = email_render(template, context)
    now = timezone.now()
    email = OutboxEmail(kind=kind, key=key[:200], seller=seller, to=to, subject=" ".join(subject.split())[:255],
                        text=text, html=html, attachments=attachments or [], created_at=now,
                        next_attempt_at=now + timedelta(seconds=settings.EMAIL_SWEEP_AFTER_SECONDS))
    if not insert_unless_conflict(email):  # ON CONFLICT DO NOTHING: queued once per key
        return None
    log.info("email queued", extra={"kind": kind, "email": email.pk})
    transaction.on_commit(lambda: _send_later(email.pk))
    return email


SEND_TASK = "notifications.tasks.send_email"


def _send_later(email_id: int) -> None:
    # Queued by name: tasks import this module. Broker down: the send-due-emails sweep sends the row.
    publish(SEND_TASK, email_id)


def _claim(email_id: int, now) -> OutboxEmail | None:
    claimable = Q(status=OutboxEmail.Status.QUEUED) | Q(status=OutboxEmail.Status.SENDING,
                                                         claimed_at__lt=now - SENDING_LEASE)
    claimed = OutboxEmail.objects.filter(claimable, pk=email_id).update(
        status=OutboxEmail.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    return OutboxEmail.objects.get(pk=email_id) if claimed else None


def _message(email: OutboxEmail, connection) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(email.subject, email.text, settings.DEFAULT_FROM_EMAIL, email.to,
                                     connection=connection, headers={"Message-ID": email.message_id})
    if email.html:
        message.attach_alternative(email.html, "text/html")
    for attachment in email.attachments:
        message.attach(attachment["filename"], attachment["content"], attachment.get("mimetype", "text/plain"))
    return message


def _error_text(exc: Exception) -> str:
    """The exception's class and SMTP code only: SMTP errors quote addresses, which stay out of logs."""
    code = getattr(exc, "smtp_code", None)
    return f"{exc.__class__.__name__}{f' {code}' if code else ''}"


def outbox_send(*, email_id: int, now=None) -> str:
    """Send one outbox row if it is still due; returns its status afterwards ("" when not claimed)."""
    now = now or timezone.now()
    email = _claim(email_id, now)
    if email is None:
        return ""
    try:
        _message(email, get_connection(timeout=settings.EMAIL_TIMEOUT)).send()
    except Exception as exc:  # noqa: BLE001 - any backend failure is recorded, never raised into the worker
        return _mark_failed_attempt(email, _error_text(exc))
    _mark_sent(email)
    return OutboxEmail.Status.SENT


def _mark_sent(email: OutboxEmail) -> None:
    OutboxEmail.objects.filter(pk=email.pk, status=OutboxEmail.Status.SENDING).update(
        status=OutboxEmail.Status.SENT, sent_at=timezone.now(), last_error="")
    log.info("email sent", extra={"kind": email.kind, "email": email.pk, "attempts": email.attempts})


def _mark_failed_attempt(email: OutboxEmail, error: str) -> str:
    final = email.attempts >= MAX_ATTEMPTS
    status = OutboxEmail.Status.FAILED if final else OutboxEmail.Status.QUEUED
    OutboxEmail.objects.filter(pk=email.pk, status=OutboxEmail.Status.SENDING).update(
        status=status, last_error=error[:255], next_attempt_at=timezone.now() + backoff(email.attempts))
    log.warning("email send failed", extra={"kind": email.kind, "email": email.pk, "attempts": email.attempts,
                                            "error": error, "final": final})
    return status


def outbox_due_ids(*, now=None, limit: int = 200) -> list[int]:
    """Rows the sweep sends: queued and due (a lost after-commit task, or a retry after backoff),
    or claimed by a worker that never finished (crashed) longer ago than the lease."""
    now = now or timezone.now()
    due = (Q(status=OutboxEmail.Status.QUEUED, next_attempt_at__lte=now)
           | Q(status=OutboxEmail.Status.SENDING, claimed_at__lt=now - SENDING_LEASE))
    return list(OutboxEmail.objects.filter(due).order_by("next_attempt_at").values_list("pk", flat=True)[:limit])


def outbox_sweep(*, now=None) -> int:
    ids = outbox_due_ids(now=now)
    for email_id in ids:
        outbox_send(email_id=email_id, now=now)
    return len(ids)


def outbox_resend(*, email_ids) -> int:
    """Staff's resend: failed (or sent) rows go back to the queue with a fresh set of attempts."""
    with transaction.atomic():
        rows = list(OutboxEmail.objects.select_for_update().filter(
            pk__in=email_ids, status__in=[OutboxEmail.Status.FAILED, OutboxEmail.Status.SENT]).values_list(
            "pk", flat=True))
        OutboxEmail.objects.filter(pk__in=rows).update(status=OutboxEmail.Status.QUEUED, attempts=0,
                                                       next_attempt_at=timezone.now(), last_error="")
        for email_id in rows:
            transaction.on_commit(lambda email_id=email_id: _send_later(email_id))
    return len(rows)


def seller_email_settings_save(*, seller: Seller, enabled_kinds: list[str], order_paid_mode: str, recipients,
                               require_customer_email: bool):
    """The seller's choices from the settings card; recipients must be the seller's members (the form's queryset)."""
    with transaction.atomic():
        config, _ = SellerEmailSettings.objects.select_for_update().get_or_create(seller=seller)
        config.disabled_kinds = [kind.value for kind in SELLER_KINDS if kind.value not in enabled_kinds]
        config.order_paid_mode = order_paid_mode
        config.require_customer_email = require_customer_email
        config.save()
        config.recipients.set(recipients)
    log.info("email settings saved", extra={"seller": seller.pk})
    return config

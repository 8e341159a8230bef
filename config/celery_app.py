"""The Celery app and the one reviewed beat schedule.

django-celery-beat's DatabaseScheduler copies BEAT_SCHEDULE into the database
on start, so staff can change intervals in the admin without a deploy.
"""
import logging.config
import os

from celery import Celery
from celery.signals import setup_logging
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

log = logging.getLogger("kassa.celery")
app = Celery("kassa")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def task_named(name: str):
    """A registered task, for a service that queues it: tasks import services, so a service never
    imports a tasks module (each app's ready() imports its tasks, which registers them)."""
    return app.tasks[name]


def publish(name: str, *args, countdown: float | None = None) -> bool:
    """Queue task `name`; with the broker down, log it and return False instead of raising. Only for
    work a beat sweep also finds from the database (the row says it is due), so a lost publish delays
    that work, never loses it, and never turns a change already committed into an error."""
    try:
        task_named(name).apply_async(args, countdown=countdown)
    except Exception:  # noqa: BLE001 - kombu's connection errors differ by transport
        log.warning("task not queued: broker unavailable", extra={"task": name}, exc_info=True)
        return False
    return True


@setup_logging.connect
def _django_logging(**kwargs) -> None:
    """With a receiver for this signal Celery leaves logging alone (it would otherwise put its own
    handler and format on the root logger), so worker and beat write the web's key=value lines."""
    logging.config.dictConfig(settings.LOGGING)

# Every periodic task is idempotent and safe to run twice at once.
BEAT_SCHEDULE = {
    "monitor-pending-payments": {
        "task": "payments.tasks.monitor_pending_payments",
        "schedule": 10.0,
        "options": {"expires": 9},
    },
    "expire-stale-payments": {
        "task": "payments.tasks.expire_stale_payments",
        "schedule": 30.0,
        "options": {"expires": 29},
    },
    "release-amount-reservations": {
        "task": "payments.tasks.release_amount_reservations",
        "schedule": 300.0,
    },
    "deliver-webhooks": {
        "task": "webhooks.tasks.deliver_due_webhooks",
        "schedule": 15.0,
        "options": {"expires": 14},
    },
    # Gateway refunds whose call timed out: asked at the provider, resent with the same key if absent.
    "reconcile-pending-refunds": {
        "task": "payments.tasks.reconcile_pending_refunds",
        "schedule": 60.0,
        "options": {"expires": 59},
    },
    "settle": {
        "task": "payments.tasks.settle",
        "schedule": 24 * 3600.0,
    },
    "purge-idempotency-keys": {
        "task": "sellers.tasks.purge_expired_idempotency_keys",
        "schedule": 3600.0,
    },
    "purge-invalid-webhooks": {
        "task": "payments.tasks.purge_invalid_webhooks",
        "schedule": 3600.0,
    },
    # The Buy form's nonces claimed in the database while Redis was down (orders.buy_nonce).
    "purge-buy-nonces": {
        "task": "orders.tasks.purge_buy_nonces",
        "schedule": 3600.0,
    },
    # Dashboard rollup: recent days often; a deep re-roll nightly catches late changes to older days.
    "refresh-dashboard-rollups": {
        "task": "payments.tasks.refresh_dashboard_rollups",
        "schedule": 600.0,
        "kwargs": {"overlap_days": 3},
    },
    "refresh-dashboard-rollups-deep": {
        "task": "payments.tasks.refresh_dashboard_rollups",
        "schedule": 24 * 3600.0,
        "kwargs": {"overlap_days": 90},
    },
    # Email (notifications): the outbox sweep (retries after backoff, lost after-commit tasks, crashed
    # sends), and the scheduled emails, keyed per period so each goes once; hourly runs catch every
    # seller's local midnight.
    "send-due-emails": {
        "task": "notifications.tasks.send_due_emails",
        "schedule": 30.0,
        "options": {"expires": 29},
    },
    "email-order-paid-digests": {
        "task": "payments.tasks.email_order_paid_digests",
        "schedule": 3600.0,
    },
    "email-weekly-reports": {
        "task": "payments.tasks.email_weekly_reports",
        "schedule": 3600.0,
    },
    "email-review-digest": {
        "task": "payments.tasks.email_review_digest",
        "schedule": 3600.0,
    },
}
app.conf.beat_schedule = BEAT_SCHEDULE

# Beat's ticks travel on their own queue, served by their own worker (Procfile `ticks`), so a backlog
# of webhook deliveries or webhook processing on the default queue can never hold a monitor tick back.
# Daily batch jobs and the rollups may run for minutes; they stay on the default queue so a tick never
# waits behind them either.
TICKS_QUEUE = "ticks"
# Email waits on SMTP servers (up to EMAIL_TIMEOUT per message), and the webhook sweep on sellers' receivers
# (up to webhooks.delivery.TIMEOUT_SECONDS per attempt, one after another): never on the ticks queue.
BATCH_JOBS = {
    "payments.tasks.settle", "payments.tasks.refresh_dashboard_rollups", "notifications.tasks.send_due_emails",
    "webhooks.tasks.deliver_due_webhooks",
    "payments.tasks.email_order_paid_digests", "payments.tasks.email_weekly_reports",
    "payments.tasks.email_review_digest",
}
app.conf.task_routes = {entry["task"]: {"queue": TICKS_QUEUE}
                        for entry in BEAT_SCHEDULE.values() if entry["task"] not in BATCH_JOBS}
# A shopper's "I've paid" check is as short as a tick and as urgent.
app.conf.task_routes["payments.tasks.verify_payment"] = {"queue": TICKS_QUEUE}

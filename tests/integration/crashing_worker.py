"""The Celery app for the email crash test: a worker that dies (SIGKILL, no cleanup) right after
the SMTP server accepted a message and before the outbox row is marked sent.

    celery -A tests.integration.crashing_worker worker --pool solo ...
"""
import os
import signal

from celery.signals import worker_ready

from config.celery_app import app

__all__ = ["app"]


@worker_ready.connect
def _die_before_marking_sent(**_) -> None:
    from notifications import services

    services._mark_sent = lambda email: os.kill(os.getpid(), signal.SIGKILL)

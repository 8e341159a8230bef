"""Logging for web, worker and beat alike: one key=value line per event, easy to grep and to ship.

settings.LOGGING names these; config.celery_app applies the same LOGGING in Celery's processes.
"""
import logging
import re

from celery._state import get_current_task

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# A checkout token is the shopper's only credential: a log line keeps its first 6 characters,
# enough to correlate, useless to anyone reading the log.
_CHECKOUT_TOKEN = re.compile(r"(/checkout/[^/\s'\"?]{6})[^/\s'\"?]+")


def redact(text: str) -> str:
    """`/checkout/<token>/…` → `/checkout/<first 6 chars>…/…`, wherever it appears in text."""
    return _CHECKOUT_TOKEN.sub("\\1…", text) if "/checkout/" in text else text


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(
            f"{key}={value!r}" if isinstance(value, str) and " " in value else f"{key}={value}"
            for key, value in record.__dict__.items()
            if key not in _STANDARD and not key.startswith("_")
        )
        line = f"{self.formatTime(record)} {record.levelname} {record.name} {record.getMessage()}"
        if extras:
            line = f"{line} {extras}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        # The whole line: paths also reach messages, reprs of requests and tracebacks.
        return redact(line)


class TaskContextFilter(logging.Filter):
    """Adds task=<name> task_id=<id> to every line written while a Celery task runs (worker and eager)."""

    def filter(self, record: logging.LogRecord) -> bool:
        task = get_current_task()
        if task is not None and task.request.id:
            record.task, record.task_id = task.name, task.request.id
        return True

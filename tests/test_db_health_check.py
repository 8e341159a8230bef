"""config.postgres: reusing a connection checks its socket instead of sending SELECT 1."""
import time

import psycopg
import pytest
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _terminate(pid: int) -> None:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**{k: v for k, v in params.items() if k in {"dbname", "user", "host", "port", "password"}},
                         autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


def _wait_unusable(deadline: float = 5.0) -> bool:
    until = time.monotonic() + deadline
    while time.monotonic() < until:
        if not connection.is_usable():
            return True
        time.sleep(0.02)
    return False


def test_an_idle_good_connection_is_usable_without_a_query(monkeypatch):
    connection.ensure_connection()

    def no_round_trip(*args, **kwargs):
        raise AssertionError("the health check sent a query")

    # Django's stock check runs SELECT 1 on a raw psycopg cursor.
    monkeypatch.setattr(connection.connection, "cursor", no_round_trip)
    monkeypatch.setattr(connection.connection, "execute", no_round_trip)
    assert connection.is_usable()


def test_a_connection_the_server_closed_is_not_usable_and_the_next_request_reconnects():
    connection.ensure_connection()
    old_pid = connection.connection.info.backend_pid
    _terminate(old_pid)
    assert _wait_unusable(), "a terminated backend must be noticed from its socket"

    # What Django does at the start of a request that reuses the connection.
    connection.health_check_done = False
    connection.close_if_health_check_failed()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        new_pid = cursor.fetchone()[0]
    assert new_pid != old_pid


def test_inside_a_transaction_the_check_falls_back_to_a_round_trip():
    from django.db import transaction

    with transaction.atomic():
        connection.cursor().execute("SELECT 1")
        _terminate(connection.connection.info.backend_pid)
        time.sleep(0.1)
        assert connection.is_usable() is False
        connection.needs_rollback = True  # leave the block without touching the dead socket
    connection.close()

"""PostgreSQL backend whose connection health check needs no round trip.

Django's CONN_HEALTH_CHECKS sends `SELECT 1` before the first query of every request,
which on the hot paths (webhook ingest, API writes) is a whole extra statement. When the
server drops a connection (restart, pg_terminate_backend, idle timeout) it sends an error
message and closes the socket, so an idle connection that is still good has nothing to
read; anything readable means "do not reuse" (at worst a needless reconnect). Outside
that idle state, or if the socket cannot be polled, Django's `SELECT 1` decides.
"""
from __future__ import annotations

import select

from django.db.backends.postgresql.base import DatabaseWrapper as PostgresDatabaseWrapper
from psycopg.pq import TransactionStatus


class DatabaseWrapper(PostgresDatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        if connection.info.transaction_status != TransactionStatus.IDLE:
            return super().is_usable()
        try:
            poller = select.poll()
            poller.register(connection.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
            return not poller.poll(0)
        except (OSError, ValueError):
            return super().is_usable()

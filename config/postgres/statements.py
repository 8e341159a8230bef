"""Hot-path statements on PostgreSQL with server-side binding.

Django's psycopg cursors bind parameters on the client: every value is quoted into the
SQL text in Python, which for a stored webhook body costs more than the insert itself.
A plain psycopg cursor sends the values apart from the text, and `prepare=True` lets
PostgreSQL plan the statement once per connection. Errors still come out as Django's
(and mark the connection for the end-of-request check), as with any cursor.
"""
from __future__ import annotations

from typing import Any

import psycopg
from django.db import connection


def execute(sql: str, params: list[Any] | tuple[Any, ...]) -> list[tuple]:
    """Run one statement on the default connection (inside the caller's transaction, if any)
    and return its rows ([] when it returns none)."""
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchall() if cursor.description else []

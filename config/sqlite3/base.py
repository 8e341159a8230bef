"""SQLite backend whose flush still works with append-only tables.

The ledger's triggers refuse DELETE row by row, and SQLite flushes with DELETE FROM
(PostgreSQL's TRUNCATE fires no row triggers). Flushing wipes every table on purpose
(`manage.py flush`, transactional tests), so for that one operation the "append_only_"
triggers are dropped and put back in the same transaction.
"""
from __future__ import annotations

from django.db.backends.sqlite3 import base


class DatabaseOperations(base.DatabaseOperations):
    def execute_sql_flush(self, sql_list):
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'append_only_%'")
            triggers = cursor.fetchall()
        if not triggers:
            return super().execute_sql_flush(sql_list)
        drops = [f'DROP TRIGGER "{name}"' for name, _ in triggers]
        return super().execute_sql_flush([*drops, *sql_list, *(sql for _, sql in triggers)])


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

"""Inserts that travel together: one statement, one round trip, one parameter.

Inside `batch()` (PostgreSQL; `all_or_nothing()` opens one), `statements.insert(obj,
defer=True)` does not run at once: the row waits until the next statement that needs
an answer (another insert, any read, the end of the batch) and then goes with the other
waiting rows as one data-modifying WITH statement. Each row travels as a JSON object
in a single parameter, which `json_populate_record` turns back into the table's row:
the values are the ones `Model.save()` would write (pre_save + get_db_prep_save),
made JSON-ready exactly (UUIDs and decimals as text, datetimes in full ISO form).

Why: the API's order create wrote four rows in five round trips (BEGIN aside), and
turning ~60 values into bound parameters one by one cost more CPU than PostgreSQL
spent on the rows. Batched, it is one statement, and a third of the Python.

The cost of deferring, which is why callers opt in: a deferred row's database-assigned
primary key is set when the batch flushes, and an error from it (a foreign key, a
unique index) surfaces then. Use it for rows nothing reads back before the transaction
ends (timeline events, order items). Statements run in the order the code issued them:
any ORM query, savepoint or `statements` call flushes the waiting rows first.
"""
from __future__ import annotations

import contextlib
import datetime
import decimal
import json
import uuid
from functools import cache

from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from psycopg.types.json import Json, Jsonb

from config import statements


def _json_document(wrapper: Json | Jsonb):
    # Django wraps a JSONField's value with json.dumps, or with its encoder's dumps.
    if wrapper.dumps in (None, json.dumps):
        return wrapper.obj
    return json.loads(wrapper.dumps(wrapper.obj))


# Database values that JSON cannot carry as they are, and the text PostgreSQL parses back.
_JSON_READY = {
    uuid.UUID: str,
    decimal.Decimal: str,
    datetime.datetime: datetime.datetime.isoformat,
    datetime.date: datetime.date.isoformat,
    datetime.time: datetime.time.isoformat,
    Json: _json_document,
    Jsonb: _json_document,
}
_AS_IS = (str, int, float, type(None))  # bool is an int; str covers TextChoices


class _NotJsonReady(Exception):
    """A value of a type this module does not know how to carry: insert the row at once."""


def _json_ready(value):
    convert = _JSON_READY.get(type(value))
    if convert is not None:
        return convert(value)
    if isinstance(value, _AS_IS):
        return value
    raise _NotJsonReady(type(value).__name__)


def _row(obj: models.Model, db) -> dict:
    fields = statements.insert_fields(type(obj))
    return {field.column: _json_ready(field.get_db_prep_save(field.pre_save(obj, True), db)) for field in fields}


@cache
def _statement(shape: tuple[tuple[type[models.Model], bool], ...]) -> str:
    """WITH r0 AS (INSERT ... SELECT ... FROM json_populate_record(...)), r1 AS (...) SELECT
    each row's primary key (NULL where ON CONFLICT DO NOTHING skipped it)."""
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    inserts, keys = [], []
    for index, (model, skip_conflicts) in enumerate(shape):
        fields = statements.insert_fields(model)
        table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
        columns = ", ".join(quote(field.column) for field in fields)
        # Identifiers come from model metadata; every value is inside the one bound parameter.
        inserts.append(f"r{index} AS (INSERT INTO {table} ({columns}) SELECT {columns} "  # noqa: S608
                       f"FROM json_populate_record(NULL::{table}, %(rows)s::json -> {index})"
                       f"{' ON CONFLICT DO NOTHING' if skip_conflicts else ''} RETURNING {pk})")
        keys.append(f"(SELECT {pk} FROM r{index})")  # noqa: S608
    return f"WITH {', '.join(inserts)} SELECT {', '.join(keys)}"  # noqa: S608


class InsertBatch:
    def __init__(self, db):
        self.db = db
        self.pending: list[tuple[models.Model, bool, dict]] = []

    def insert(self, obj: models.Model, *, skip_conflicts: bool, defer: bool) -> bool:
        try:
            row = _row(obj, self.db)
        except _NotJsonReady:
            self.flush()
            return statements.insert_now(obj, skip_conflicts=skip_conflicts)
        self.pending.append((obj, skip_conflicts, row))
        if defer and not skip_conflicts:
            return True
        return self.flush()[-1]  # the caller needs this row's outcome: send it, with those waiting

    def flush(self) -> list[bool]:
        """Send the waiting rows; whether each went in (False: skipped on a conflict)."""
        pending, self.pending = self.pending, []
        if not pending:
            return []
        sql = _statement(tuple((type(obj), skip) for obj, skip, _row in pending))
        payload = json.dumps([row for _obj, _skip, row in pending], separators=(",", ":"), ensure_ascii=False)
        (keys,) = statements.execute(sql, {"rows": payload})
        written = []
        for (obj, _skip, _row), key in zip(pending, keys, strict=True):
            if key is not None:
                obj.pk = key
                obj._state.adding, obj._state.db = False, self.db.alias
            written.append(key is not None)
        return written

    def discard(self) -> None:
        self.pending = []


def active(db) -> InsertBatch | None:
    return getattr(db, statements.BATCH_ATTRIBUTE, None)


@contextlib.contextmanager
def batch():
    """Defer `defer=True` inserts until they are needed (see the module doc). Use inside a
    transaction: the rows are flushed before the block ends, or dropped when it is rolled
    back. Off PostgreSQL, and when a batch is already open, this does nothing."""
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql" or active(db) is not None:
        yield
        return
    current = InsertBatch(db)

    def flush_first(execute, sql, params, many, context):
        current.flush()  # so that an ORM statement sees (and follows) the waiting rows
        return execute(sql, params, many, context)

    setattr(db, statements.BATCH_ATTRIBUTE, current)
    try:
        with db.execute_wrapper(flush_first):
            yield
            if db.in_atomic_block and transaction.get_rollback():
                current.discard()
            else:
                current.flush()
    finally:
        current.discard()
        setattr(db, statements.BATCH_ATTRIBUTE, None)

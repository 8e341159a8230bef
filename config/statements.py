"""Hot-path writes: on PostgreSQL prepared statements with server-side binding, elsewhere the ORM.

Django's psycopg cursors bind parameters on the client (every value quoted into the SQL
text in Python) and the ORM compiles each statement afresh, which on the hot paths
(webhook ingest, API order and payment creation) costs more CPU than PostgreSQL spends
running them. Here a statement's text is built once per model, values travel apart from
it, and `prepare=True` lets PostgreSQL plan it once per connection. Errors come out as
Django's (and mark the connection for the end-of-request check), and the statements
show up in `connection.queries` / CaptureQueriesContext like any other.

`insert()` and `update()` are for models without save() overrides or signal receivers:
they write the columns exactly as Model.save() would, minus the signals. `execute()` and
`select()` are PostgreSQL only: check `available()` and use the ORM elsewhere.
"""
from __future__ import annotations

import time
from functools import cache
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, models, transaction


def execute(sql: str, params: list[Any] | tuple[Any, ...]) -> list[tuple]:
    """Run one statement on the default connection (inside the caller's transaction, if any)
    and return its rows ([] when it returns none)."""
    db = connections[DEFAULT_DB_ALIAS]  # once: each `connection.x` is a thread-local lookup
    db.close_if_health_check_failed()
    db.ensure_connection()
    started = time.monotonic()
    try:
        with db.wrap_database_errors:
            cursor = _cursor(db)
            cursor.execute(sql, params, prepare=True)
            return cursor.fetchall() if cursor.description else []
    finally:
        if db.queries_logged:
            db.queries_log.append({"sql": f"{sql} /* {params!r} */", "time": f"{time.monotonic() - started:.3f}"})


def _cursor(db) -> psycopg.Cursor:
    """One server-side-binding cursor per database connection, reused: a new cursor starts
    with a cold cache of type adapters, and looking them up again costs more than the insert."""
    raw = db.connection
    cursor = getattr(db, "_kassa_hot_cursor", None)
    if cursor is None or cursor.closed or cursor.connection is not raw:
        cursor = db._kassa_hot_cursor = psycopg.Cursor(raw)
    return cursor


@cache
def _insert_statement(model: type[models.Model], skip_conflicts: bool) -> tuple[list, str]:
    meta = model._meta
    fields = [field for field in meta.concrete_fields
              if not (field.primary_key and isinstance(field, models.AutoField | models.BigAutoField))]
    quote = connection.ops.quote_name
    # Identifiers come from the model's metadata; every value is a bound parameter.
    sql = (f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
           f"VALUES ({', '.join(['%s'] * len(fields))})"
           f"{' ON CONFLICT DO NOTHING' if skip_conflicts else ''} RETURNING {quote(meta.pk.column)}")
    return fields, sql


def insert(obj: models.Model, *, skip_conflicts: bool = False) -> bool:
    """INSERT `obj` (setting its pk when the database assigns it). With skip_conflicts, a
    row that would break a unique constraint is not written and False is returned."""
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql":
        return _insert_with_orm(obj, skip_conflicts)
    fields, sql = _insert_statement(type(obj), skip_conflicts)
    rows = execute(sql, [field.get_db_prep_save(field.pre_save(obj, True), db) for field in fields])
    if not rows:
        return False
    obj.pk = rows[0][0]
    obj._state.adding, obj._state.db = False, db.alias
    return True


@cache
def _select_statement(model: type[models.Model], clause: str) -> tuple[list, str, list]:
    meta = model._meta
    fields = list(meta.concrete_fields)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    # The clause is a literal at its call site, never built from input; values are parameters.
    sql = f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {clause}"  # noqa: S608
    converters = [(index, field, field.get_db_converters(connection))
                  for index, field in enumerate(fields) if field.get_db_converters(connection)]
    return fields, sql, converters


def available() -> bool:
    """Whether execute() and select() can run here (PostgreSQL); callers fall back to the ORM."""
    return connections[DEFAULT_DB_ALIAS].vendor == "postgresql"


def select(model: type[models.Model], clause: str, params: list[Any]) -> list:
    """Instances of `model` for `SELECT <every column> WHERE <clause>` (clause: a constant with
    %s placeholders, e.g. "prefix = %s"), each as the ORM would load it (from_db + converters).
    PostgreSQL only (see available())."""
    db = connections[DEFAULT_DB_ALIAS]
    fields, sql, converters = _select_statement(model, clause)
    attnames = [field.attname for field in fields]
    found = []
    for row in execute(sql, params):
        values = list(row)
        for index, field, field_converters in converters:
            for convert in field_converters:
                values[index] = convert(values[index], field, db)
        found.append(model.from_db(db.alias, attnames, values))
    return found


@cache
def _update_statement(model: type[models.Model], names: tuple[str, ...]) -> tuple[list, str]:
    meta = model._meta
    fields = [meta.get_field(name) for name in names]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
    return fields, sql


def update(obj: models.Model, *fields: str) -> None:
    """UPDATE these fields of `obj` from its current values (by primary key)."""
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql":
        type(obj)._base_manager.filter(pk=obj.pk).update(**{name: getattr(obj, name) for name in fields})
        return
    targets, sql = _update_statement(type(obj), fields)
    params = [field.get_db_prep_save(getattr(obj, field.attname), db) for field in targets]
    execute(sql, [*params, obj._meta.pk.get_db_prep_save(obj.pk, db)])


def _insert_with_orm(obj: models.Model, skip_conflicts: bool) -> bool:
    if not skip_conflicts:
        obj.save(force_insert=True)
        return True
    try:
        with transaction.atomic():
            obj.save(force_insert=True)
    except IntegrityError:
        return False
    return True

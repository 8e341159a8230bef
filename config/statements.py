"""Hot-path writes: on PostgreSQL prepared statements with server-side binding, elsewhere the ORM.

Django's psycopg cursors bind parameters on the client (every value quoted into the SQL
text in Python) and the ORM compiles each statement afresh, which on the hot paths
(webhook ingest, API order and payment creation) costs more CPU than PostgreSQL spends
running them. Here a statement's text is built once per model, values travel apart from
it, and `prepare=True` lets PostgreSQL plan it once per connection. Errors come out as
Django's (and mark the connection for the end-of-request check), and the statements
show up in `connection.queries` / CaptureQueriesContext like any other.

`insert()` and `update()` are for models without save() overrides or signal receivers:
they write the columns exactly as Model.save() would, minus the signals. `execute()` is
PostgreSQL only.
"""
from __future__ import annotations

import time
from functools import cache
from typing import Any

import psycopg
from django.db import IntegrityError, connection, models, transaction


def execute(sql: str, params: list[Any] | tuple[Any, ...]) -> list[tuple]:
    """Run one statement on the default connection (inside the caller's transaction, if any)
    and return its rows ([] when it returns none)."""
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    started = time.monotonic()
    try:
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, params, prepare=True)
            return cursor.fetchall() if cursor.description else []
    finally:
        if connection.queries_logged:
            connection.queries_log.append({"sql": f"{sql} /* {params!r} */",
                                           "time": f"{time.monotonic() - started:.3f}"})


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
    if connection.vendor != "postgresql":
        return _insert_with_orm(obj, skip_conflicts)
    fields, sql = _insert_statement(type(obj), skip_conflicts)
    rows = execute(sql, [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields])
    if not rows:
        return False
    obj.pk = rows[0][0]
    obj._state.adding, obj._state.db = False, connection.alias
    return True


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
    if connection.vendor != "postgresql":
        type(obj)._base_manager.filter(pk=obj.pk).update(**{name: getattr(obj, name) for name in fields})
        return
    targets, sql = _update_statement(type(obj), fields)
    params = [field.get_db_prep_save(getattr(obj, field.attname), connection) for field in targets]
    execute(sql, [*params, obj._meta.pk.get_db_prep_save(obj.pk, connection)])


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

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
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, models, transaction

# The connection attribute naming the open config.insert_batch.InsertBatch, if any.
BATCH_ATTRIBUTE = "kassa_insert_batch"


def execute(sql: str, params: Sequence[Any] | Mapping[str, Any]) -> list[tuple]:
    """Run one statement on the default connection (inside the caller's transaction, if any)
    and return its rows ([] when it returns none). Params: positional for %s, a mapping for %(name)s."""
    db = connections[DEFAULT_DB_ALIAS]  # once: each `connection.x` is a thread-local lookup
    if (batch := getattr(db, BATCH_ATTRIBUTE, None)) is not None and batch.pending:
        batch.flush()  # rows deferred before this statement go first
    db.close_if_health_check_failed()
    db.ensure_connection()
    started = time.monotonic()
    try:
        with db.wrap_database_errors:
            cursor = _cursor(db)
            cursor.execute(sql, params, prepare=True)
            # pgresult.nfields, not cursor.description: that builds a Column per field on every call.
            result = cursor.pgresult
            return cursor.fetchall() if result is not None and result.nfields else []
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


def insert_fields(model: type[models.Model]) -> list:
    """The fields an INSERT writes, in order: every concrete field but a database-assigned pk."""
    return _insert_statement(model, False)[0]


def insert(obj: models.Model, *, skip_conflicts: bool = False, defer: bool = False) -> bool:
    """INSERT `obj` (setting its pk when the database assigns it). With skip_conflicts, a
    row that would break a unique constraint is not written and False is returned.

    defer: inside config.insert_batch.batch(), the row may wait and go with the next
    statement (its database-assigned pk is set then); elsewhere it is written at once."""
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql":
        return _insert_with_orm(obj, skip_conflicts)
    if (batch := getattr(db, BATCH_ATTRIBUTE, None)) is not None:
        return batch.insert(obj, skip_conflicts=skip_conflicts, defer=defer)
    return insert_now(obj, skip_conflicts=skip_conflicts)


def insert_now(obj: models.Model, *, skip_conflicts: bool = False) -> bool:
    """insert() as its own prepared statement, on PostgreSQL."""
    db = connections[DEFAULT_DB_ALIAS]
    fields, sql = _insert_statement(type(obj), skip_conflicts)
    rows = execute(sql, [field.get_db_prep_save(field.pre_save(obj, True), db) for field in fields])
    if not rows:
        return False
    obj.pk = rows[0][0]
    obj._state.adding, obj._state.db = False, db.alias
    return True


@cache
def _loader(model: type[models.Model]) -> tuple[list, list, list, int]:
    """A model's concrete fields, their attnames, the db converters the ORM would apply,
    and where its primary key sits among them."""
    fields = list(model._meta.concrete_fields)
    converters = [(index, field, field.get_db_converters(connection))
                  for index, field in enumerate(fields) if field.get_db_converters(connection)]
    return fields, [field.attname for field in fields], converters, fields.index(model._meta.pk)


def _load(model: type[models.Model], values: list, db) -> models.Model | None:
    """An instance from its columns (in concrete-field order), as the ORM would load it;
    None for the all-NULL side of an outer join (no primary key)."""
    _fields, attnames, converters, pk_index = _loader(model)
    if values[pk_index] is None:
        return None
    for index, field, field_converters in converters:
        for convert in field_converters:
            values[index] = convert(values[index], field, db)
    return model.from_db(db.alias, attnames, values)


@cache
def _joined_statement(parts: tuple[tuple[type[models.Model], str], ...], rest: str) -> tuple[str, list]:
    quote = connection.ops.quote_name
    columns, spans, start = [], [], 0
    for model, alias in parts:
        fields = _loader(model)[0]
        columns += [f"{alias}.{quote(field.column)}" for field in fields]
        spans.append((model, start, start + len(fields)))
        start += len(fields)
    # Aliases and `rest` are literals at the call site, never built from input; values are parameters.
    return f"SELECT {', '.join(columns)} {rest}", spans  # noqa: S608


def available() -> bool:
    """Whether execute() and select() can run here (PostgreSQL); callers fall back to the ORM."""
    return connections[DEFAULT_DB_ALIAS].vendor == "postgresql"


def select(model: type[models.Model], clause: str, params: list[Any]) -> list:
    """Instances of `model` for `SELECT <every column> WHERE <clause>` (clause: a constant with
    %s placeholders, e.g. "prefix = %s"), each as the ORM would load it (from_db + converters).
    PostgreSQL only (see available())."""
    table = connection.ops.quote_name(model._meta.db_table)
    return [row[0] for row in select_joined(((model, table),), f"FROM {table} WHERE {clause}", params)]


def select_joined(parts: tuple[tuple[type[models.Model], str], ...], rest: str, params: list[Any]) -> list[tuple]:
    """One statement that loads several models per row: `parts` is ((Model, alias), ...),
    `rest` the constant "FROM ... JOIN ... WHERE ..." naming those aliases. Each row comes
    back as a tuple of instances (None for an outer join's missing side), the ORM's
    select_related without compiling a query each time. PostgreSQL only."""
    db = connections[DEFAULT_DB_ALIAS]
    sql, spans = _joined_statement(parts, rest)
    return [tuple(_load(model, list(row[start:end]), db) for model, start, end in spans)
            for row in execute(sql, params)]


def prefetched(instance: models.Model, related_name: str, objects: list) -> None:
    """Hand `instance` its reverse relation's rows, as prefetch_related would: afterwards
    `instance.<related_name>.all()` returns them without a query."""
    queryset = getattr(instance, related_name).get_queryset()  # scoped: a later .filter() queries correctly
    queryset._result_cache, queryset._prefetch_done = list(objects), True
    if not hasattr(instance, "_prefetched_objects_cache"):
        instance._prefetched_objects_cache = {}
    instance._prefetched_objects_cache[related_name] = queryset


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

"""The one thing the ORM cannot say: insert a row unless a unique constraint already holds
its twin, without an exception. `INSERT … ON CONFLICT DO NOTHING RETURNING <pk>` runs the
same on PostgreSQL and on SQLite (3.35+), so `make test` runs production's statement.

Why not save() and catch IntegrityError: on PostgreSQL an error aborts the transaction, so
that needs a savepoint (two more round trips) around every try, and a lost race (a taken
Nano amount slot, an Idempotency-Key a twin holds, a webhook already stored) is ordinary.
"""

from __future__ import annotations

from functools import cache

from django.db import connection, models


@cache
def _statement(model: type[models.Model]) -> tuple[list, str, bool]:
    """The fields an INSERT writes, its SQL, and whether the database assigns the pk."""
    meta = model._meta
    assigned = isinstance(meta.pk, models.AutoField | models.BigAutoField | models.SmallAutoField)
    fields = [field for field in meta.concrete_fields if not (field.primary_key and assigned)]
    quote = connection.ops.quote_name
    # Identifiers come from the model's metadata; every value is a bound parameter.
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))}) ON CONFLICT DO NOTHING RETURNING {quote(meta.pk.column)}"
    )
    return fields, sql, assigned


def insert_unless_conflict(obj: models.Model) -> bool:
    """INSERT `obj` with the values Model.save() would write (for models without save()
    overrides or signal receivers); False when a unique constraint already holds such a row.
    A database-assigned pk is set on `obj`."""
    fields, sql, assigned = _statement(type(obj))
    params = [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    if assigned:
        obj.pk = row[0]
    obj._state.adding, obj._state.db = False, connection.alias
    return True

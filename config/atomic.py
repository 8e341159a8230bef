"""transaction.atomic() for the hot services, minus the savepoint inside an all-or-nothing
transaction.

A nested atomic block normally sets a savepoint (two more round trips) so that a caller
can catch its failure and carry on with the outer work. Inside `all_or_nothing()` (the
API's idempotency transaction: key and work commit together) nobody does: any exception
ends the request and rolls everything back. There the services' blocks skip the
savepoint; everywhere else, `atomic()` is exactly `transaction.atomic()`.
"""
from __future__ import annotations

import contextlib

from django.db import DEFAULT_DB_ALIAS, connections, transaction

from config import insert_batch


def atomic():
    """A service's transaction block (see the module doc)."""
    return transaction.atomic(savepoint=not getattr(connections[DEFAULT_DB_ALIAS], "kassa_all_or_nothing", False))


@contextlib.contextmanager
def all_or_nothing():
    """A transaction in which any exception rolls back all of it; nested service blocks
    set no savepoints, and deferred inserts travel together (config.insert_batch). Code
    inside must not catch a database error and go on."""
    db = connections[DEFAULT_DB_ALIAS]
    outer = getattr(db, "kassa_all_or_nothing", False)
    with transaction.atomic(), insert_batch.batch():
        db.kassa_all_or_nothing = True
        try:
            yield
        finally:
            db.kassa_all_or_nothing = outer

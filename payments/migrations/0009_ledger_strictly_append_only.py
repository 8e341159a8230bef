"""The ledger is strictly append-only: with the settlement link in payments_settlementitem,
the column goes and the triggers refuse every UPDATE and DELETE of a payments_ledgerentry row,
whatever the columns. A correction is a new, compensating entry. (PostgreSQL's TRUNCATE fires
no row trigger, and config.sqlite3's flush lifts the "append_only_" triggers, so flush works.)"""
import importlib

from django.db import migrations

TABLE = "payments_ledgerentry"
MESSAGE = "payments_ledgerentry is append-only: write a compensating entry instead"

POSTGRES = [
    f"""CREATE OR REPLACE FUNCTION append_only_ledgerentry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation';
END $$""",
    f"CREATE TRIGGER append_only_ledgerentry BEFORE UPDATE OR DELETE ON {TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION append_only_ledgerentry()",
]
# Without a column list, SQLite's UPDATE trigger fires whatever the statement sets.
SQLITE = [
    f"CREATE TRIGGER append_only_ledgerentry_update BEFORE UPDATE ON {TABLE} "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
    f"CREATE TRIGGER append_only_ledgerentry_delete BEFORE DELETE ON {TABLE} "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
]

# 0005's triggers (the settlement link may change) are what a reverse migration goes back to.
_previous = importlib.import_module("payments.migrations.0005_ledger_append_only")


def drop_previous(apps, schema_editor):
    _previous.backwards(apps, schema_editor)


def restore_previous(apps, schema_editor):
    _previous.forwards(apps, schema_editor)


def strict(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for sql in POSTGRES if vendor == "postgresql" else SQLITE if vendor == "sqlite" else []:
        schema_editor.execute(sql)


def lift_strict(apps, schema_editor):
    _previous.backwards(apps, schema_editor)   # same trigger names


class Migration(migrations.Migration):

    dependencies = [
        ("payments", "0008_settlement_items"),
    ]

    operations = [
        migrations.RunPython(drop_previous, restore_previous),
        migrations.RemoveField(model_name="ledgerentry", name="settlement"),
        migrations.RunPython(strict, lift_strict),
    ]

"""The ledger is append-only, enforced by the database: UPDATE and DELETE on
payments_ledgerentry are refused, except that `settlement_id` (which transfer or payout
covered a row, a bookkeeping pointer and not money) may be set and cleared. A correction
is a new, compensating entry."""
from django.db import migrations

TABLE = "payments_ledgerentry"
# Every column but settlement_id: money, owner and history never change once written.
FROZEN = ("id", "seller_id", "payment_id", "refund_id", "kind", "custody", "method", "currency", "gross", "fee",
          "net", "fee_bps", "memo", "created_at")
MESSAGE = "payments_ledgerentry is append-only: write a compensating entry instead"

POSTGRES = f"""
CREATE OR REPLACE FUNCTION append_only_ledgerentry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR (to_jsonb(NEW) - 'settlement_id') IS DISTINCT FROM (to_jsonb(OLD) - 'settlement_id') THEN
        RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER append_only_ledgerentry BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION append_only_ledgerentry();
"""
POSTGRES_REVERSE = f"""
DROP TRIGGER IF EXISTS append_only_ledgerentry ON {TABLE};
DROP FUNCTION IF EXISTS append_only_ledgerentry();
"""
# SQLite's triggers are per statement kind; "append_only_" names let config.sqlite3's flush find them.
SQLITE = [
    f"CREATE TRIGGER append_only_ledgerentry_update BEFORE UPDATE OF {', '.join(FROZEN)} ON {TABLE} "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
    f"CREATE TRIGGER append_only_ledgerentry_delete BEFORE DELETE ON {TABLE} "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
]
SQLITE_REVERSE = ["DROP TRIGGER IF EXISTS append_only_ledgerentry_update",
                  "DROP TRIGGER IF EXISTS append_only_ledgerentry_delete"]


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for sql in [POSTGRES] if vendor == "postgresql" else SQLITE if vendor == "sqlite" else []:
        schema_editor.execute(sql)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for sql in [POSTGRES_REVERSE] if vendor == "postgresql" else SQLITE_REVERSE if vendor == "sqlite" else []:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("payments", "0004_inbound_body_digest")]

    operations = [migrations.RunPython(forwards, backwards)]

"""Which ledger entries a settlement covers moves out of the ledger row into its own table,
so the ledger can refuse every UPDATE. Existing links are copied; an entry still pointing at a
failed settlement is copied as released (owed again), as settlement_mark would have left it."""
import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone

BATCH = 2000


def copy_links(apps, schema_editor):
    LedgerEntry = apps.get_model("payments", "LedgerEntry")
    SettlementItem = apps.get_model("payments", "SettlementItem")
    now = timezone.now()
    linked = (LedgerEntry.objects.filter(settlement__isnull=False).order_by("pk")
              .values_list("pk", "settlement_id", "settlement__status"))
    items = [SettlementItem(entry_id=pk, settlement_id=settlement_id,
                            released_at=now if status == "failed" else None)
             for pk, settlement_id, status in linked.iterator(chunk_size=BATCH)]
    SettlementItem.objects.bulk_create(items, batch_size=BATCH)


def copy_back(apps, schema_editor):
    # Runs after 0008's reverse has put the column back with the old, link-permitting triggers.
    LedgerEntry = apps.get_model("payments", "LedgerEntry")
    SettlementItem = apps.get_model("payments", "SettlementItem")
    for entry_id, settlement_id in SettlementItem.objects.filter(released_at__isnull=True).values_list(
            "entry_id", "settlement_id").iterator(chunk_size=BATCH):
        LedgerEntry.objects.filter(pk=entry_id).update(settlement_id=settlement_id)


class Migration(migrations.Migration):

    dependencies = [
        ("payments", "0007_refund_cancelled"),
    ]

    operations = [
        migrations.CreateModel(
            name="SettlementItem",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("released_at", models.DateTimeField(blank=True, null=True)),
                ("entry", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT,
                                            related_name="settlement_items", to="payments.ledgerentry")),
                ("settlement", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="items",
                                                 to="payments.settlement")),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(condition=models.Q(("released_at__isnull", True)), fields=("entry",),
                                            name="settlement_item_one_live_per_entry"),
                    models.UniqueConstraint(fields=("settlement", "entry"), name="settlement_item_once_per_settlement"),
                ],
            },
        ),
        migrations.RunPython(copy_links, copy_back),
    ]

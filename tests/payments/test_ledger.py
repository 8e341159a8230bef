"""The ledger is append-only, in the database itself (issue 15 item 5)."""
import json

import pytest
import responses
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from payments.models import LedgerEntry, Settlement, SettlementItem
from payments.settlement import settle_all
from tests.factories import PayoutDestinationFactory
from tests.payments.test_settlement import RZP, completed, gateway, refund  # noqa: F401 - gateway is a fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry():
    return LedgerEntry.objects.get(payment=completed())


@pytest.mark.parametrize("change", [{"gross": 1, "net": 1, "fee": 0}, {"memo": "edited"}, {"net": 0, "fee": 100_000},
                                    {"kind": "adjustment"}])
def test_updating_a_ledger_row_is_refused_by_the_database(entry, change):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(**change)
    # Raw SQL too: the rule lives in the database.
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE payments_ledgerentry SET gross = gross + 1, net = net + 1 WHERE id = %s", [entry.pk])
    assert LedgerEntry.objects.get(pk=entry.pk).gross == 100_000


def test_deleting_a_ledger_row_is_refused_by_the_database(entry):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).delete()
    assert LedgerEntry.objects.filter(pk=entry.pk).exists()


@pytest.mark.parametrize("sql", [
    "UPDATE payments_ledgerentry SET memo = memo WHERE id = %s",               # even one that changes nothing
    "UPDATE payments_ledgerentry SET created_at = created_at WHERE id = %s",
    "UPDATE payments_ledgerentry SET settlement_id = NULL WHERE id = %s",      # the old settlement link
])
def test_no_update_of_a_ledger_row_passes_the_database(entry, sql):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [entry.pk])


def test_the_settlement_link_lives_outside_the_ledger_row():
    with connection.cursor() as cursor:
        columns = {c.name for c in connection.introspection.get_table_description(cursor, "payments_ledgerentry")}
    assert "settlement_id" not in columns and {"gross", "fee", "net"} <= columns


def test_an_entry_is_covered_by_at_most_one_live_settlement(entry):
    def transfer():
        return Settlement.objects.create(seller_id=entry.seller_id, method="razorpay", kind="transfer",
                                         currency="INR", amount=entry.net)

    first = transfer()
    SettlementItem.objects.create(settlement=first, entry=entry)
    assert not LedgerEntry.objects.unsettled().filter(pk=entry.pk).exists()
    with pytest.raises(IntegrityError), transaction.atomic():
        SettlementItem.objects.create(settlement=transfer(), entry=entry)
    # Released (its settlement failed): owed again, and a new settlement may cover it.
    SettlementItem.objects.filter(settlement=first).update(released_at=timezone.now())
    assert LedgerEntry.objects.unsettled().filter(pk=entry.pk).exists()
    second = transfer()
    SettlementItem.objects.create(settlement=second, entry=entry)
    items = [(item.settlement_id, item.released_at is None) for item in entry.settlement_items.order_by("pk")]
    assert items == [(first.pk, False), (second.pk, True)]


@responses.activate
def test_a_refused_reversal_writes_a_compensating_entry_and_a_timed_out_one_is_resent_with_its_key(monkeypatch):
    monkeypatch.setattr("payments.providers.http.time.sleep", lambda s: None)
    payment = completed()
    PayoutDestinationFactory(seller=payment.seller, method="razorpay", value="acc_AbCdEfGhIjKlMn")
    responses.get(f"{RZP}/v1/payments/pay_Settle00000001/transfers", json={"items": []})
    responses.post(f"{RZP}/v1/payments/pay_Settle00000001/transfers",
                   json={"items": [{"id": "trf_9", "status": "processed"}]})
    settle_all()
    refund(payment, 100_000)   # a full refund: 97,500 reversible, the 2,500 fee becomes an adjustment
    url = f"{RZP}/v1/transfers/trf_9/reversals"
    responses.post(url, status=400, json={"error": {"code": "BAD_REQUEST_ERROR", "description": "no balance"}})
    settle_all()
    failed = Settlement.objects.get(amount=-97_500)
    assert failed.status == "failed" and failed.failure_reason == "no balance"
    adjustments = list(LedgerEntry.objects.filter(payment=payment, kind="adjustment").values_list("net", flat=True))
    assert sorted(adjustments) == [-2_500, 2_500]   # written, then compensated: nothing deleted
    refund_entry = LedgerEntry.objects.get(payment=payment, kind="refund")
    assert LedgerEntry.objects.unsettled().filter(pk=refund_entry.pk).exists()   # owed again
    assert refund_entry.settlement_items.get().settlement == failed              # and the history kept

    responses.replace(responses.POST, url, status=503)   # in doubt: pending, resent later with the same key
    settle_all()
    in_doubt = Settlement.objects.get(amount=-97_500, status="pending")
    responses.replace(responses.POST, url, json={"id": "rvrsl_9", "amount": 97_500})
    settle_all()
    in_doubt.refresh_from_db()
    assert (in_doubt.status, in_doubt.provider_ref) == ("reversed", "rvrsl_9")
    keys = {call.request.headers["X-Transfer-Idempotency"] for call in responses.calls if call.request.url == url
            and json.loads(call.request.body)["notes"]["kassa_settlement_id"] == str(in_doubt.pk)}
    assert keys == {f"kassa-settlement-{in_doubt.pk}"}
    assert sum(LedgerEntry.objects.filter(payment=payment, kind="adjustment").values_list("net", flat=True)) == -2_500


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_settlement_links_into_their_own_table_and_back():
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    graph = executor.loader.graph

    def named(suffix):   # by what it does, so renumbering the chain keeps this test
        return next(node for node in graph.nodes if node[0] == "payments" and node[1].endswith(suffix))

    items = named("settlement_items")
    before = [next(parent for parent in graph.node_map[items].parents if parent.key[0] == "payments").key]
    after = [named("ledger_strictly_append_only")]
    executor.migrate(before)
    others = [node for node in executor.loader.graph.leaf_nodes() if node[0] != "payments"]
    old = executor.loader.project_state(before + others).apps
    seller = old.get_model("sellers", "Seller").objects.create(slug="migrating", name="Migrating")

    def settlement(status):
        return old.get_model("payments", "Settlement").objects.create(
            seller=seller, method="coinpay", kind="payout", currency="USD", amount=1, status=status)

    def entry(linked_to):
        return old.get_model("payments", "LedgerEntry").objects.create(
            seller=seller, kind="payment", custody="platform", method="coinpay", currency="USD", gross=100, fee=1,
            net=99, fee_bps=100, settlement=linked_to).pk

    pending, failed = settlement("in_flight"), settlement("failed")
    covered, released, free = entry(pending), entry(failed), entry(None)

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    items = {(i.entry_id, i.settlement_id, i.released_at is None) for i in SettlementItem.objects.all()}
    assert items == {(covered, pending.pk, True), (released, failed.pk, False)}
    assert set(LedgerEntry.objects.unsettled().values_list("pk", flat=True)) == {released, free}
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(pk=free).update(memo="edited")

    executor = MigrationExecutor(connection)   # and back: the live links return to the column
    executor.migrate(before)
    rows = old.get_model("payments", "LedgerEntry").objects.order_by("pk").values_list("pk", "settlement_id")
    assert list(rows) == [(covered, pending.pk), (released, None), (free, None)]
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

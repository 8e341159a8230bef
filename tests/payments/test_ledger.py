"""The ledger is append-only, in the database itself (issue 15 item 5)."""
import json

import pytest
import responses
from django.db import DatabaseError, connection, transaction

from payments.models import LedgerEntry, Settlement
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


def test_linking_a_row_to_a_settlement_is_allowed(entry):
    settlement = Settlement.objects.create(seller_id=entry.seller_id, method="razorpay", kind="transfer",
                                           currency="INR", amount=entry.net)
    LedgerEntry.objects.filter(pk=entry.pk).update(settlement=settlement)
    LedgerEntry.objects.filter(pk=entry.pk).update(settlement=None)
    assert LedgerEntry.objects.get(pk=entry.pk).settlement is None


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
    assert LedgerEntry.objects.get(payment=payment, kind="refund").settlement is None   # owed again

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

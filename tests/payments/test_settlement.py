"""Daily settlement: Route transfers, CoinPay payouts, Nano fee receivables, balances."""
import json

import pytest
import responses
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.actors import Actor
from payments.models import LedgerEntry, Refund, Settlement, SettlementItem
from payments.providers.base import Observation
from payments.providers.registry import reset_providers
from payments.selectors_settlement import seller_balances
from payments.services import observation_apply, refund_mark_succeeded
from payments.settlement import settle_all, settlement_mark
from tests.factories import GatewayPaymentFactory, OrderFactory, PaymentFactory, PayoutDestinationFactory, SellerFactory

pytestmark = pytest.mark.django_db
RZP, CP = "https://rzp.test", "https://coinpay.test"
ACCOUNT = "acc_SellerLinked0001"[:18]


@pytest.fixture(autouse=True)
def gateway(settings):
    settings.RAZORPAY_API_URL, settings.COINPAY_API_URL = RZP, CP
    settings.COINPAY_USERNAME, settings.COINPAY_PASSWORD = "u", "p"
    reset_providers()
    yield
    reset_providers()


def completed(method="razorpay", seller=None, amount=100_000, tx="pay_Settle00000001", currency="INR"):
    seller = seller or SellerFactory(fee_bps=250)
    payment = GatewayPaymentFactory(method=method, order=OrderFactory(seller=seller, amount=amount,
                                                                      currency=currency))
    observation_apply(observation=Observation(provider=method, external_tx_id=tx, amount=amount, confirmed=True,
                                              provider_ref=payment.provider_ref))
    payment.refresh_from_db()
    assert payment.status == "completed"
    return payment


def refund(payment, amount):
    row = Refund.objects.create(payment=payment, seller=payment.seller, amount=amount)
    return refund_mark_succeeded(refund=row, actor=Actor.system("test"))


@responses.activate
def test_transfer_of_seller_net_is_created_once_per_payment():
    payment = completed()
    PayoutDestinationFactory(seller=payment.seller, method="razorpay", value="acc_AbCdEfGhIjKlMn")
    responses.get(f"{RZP}/v1/payments/pay_Settle00000001/transfers", json={"items": []})
    create = responses.post(f"{RZP}/v1/payments/pay_Settle00000001/transfers", json={"items": [
        {"id": "trf_1", "status": "pending", "amount": 97_500}]})
    assert settle_all()["razorpay"]["transfers"] == 1
    assert settle_all()["razorpay"]["transfers"] == 0
    assert create.call_count == 1
    sent = json.loads(create.calls[0].request.body)["transfers"][0]
    assert sent["account"] == "acc_AbCdEfGhIjKlMn" and sent["amount"] == 97_500  # 100000 - 2.5 %
    settlement = Settlement.objects.get()
    assert (settlement.status, settlement.provider_ref, settlement.amount) == ("in_flight", "trf_1", 97_500)
    assert sent["notes"] == {"kassa_settlement_id": str(settlement.pk)}
    assert create.calls[0].request.headers["X-Transfer-Idempotency"] == f"kassa-settlement-{settlement.pk}"
    assert LedgerEntry.objects.get(payment=payment).settlement_items.get().settlement == settlement
    assert seller_balances(payment.seller)["INR"] == {"owed": 0, "in_flight": 97_500, "paid_out": 0,
                                                      "fee_receivable": 0}
    settlement_mark(method="razorpay", provider_ref="trf_1", status="paid")
    assert seller_balances(payment.seller)["INR"]["paid_out"] == 97_500


@responses.activate
def test_no_destination_means_still_owed():
    payment = completed()
    assert settle_all()["razorpay"]["transfers"] == 0
    assert seller_balances(payment.seller)["INR"]["owed"] == 97_500


@responses.activate
def test_partial_refund_before_transfer_is_netted_and_after_transfer_is_reversed():
    payment = completed()
    PayoutDestinationFactory(seller=payment.seller, method="razorpay", value="acc_AbCdEfGhIjKlMn")
    refund(payment, 10_000)
    responses.get(f"{RZP}/v1/payments/pay_Settle00000001/transfers", json={"items": []})
    create = responses.post(f"{RZP}/v1/payments/pay_Settle00000001/transfers",
                            json={"items": [{"id": "trf_2", "status": "processed"}]})
    settle_all()
    assert json.loads(create.calls[0].request.body)["transfers"][0]["amount"] == 87_500
    assert Settlement.objects.get().status == "paid"
    refund(payment, 5_000)
    reverse = responses.post(f"{RZP}/v1/transfers/trf_2/reversals", json={"id": "rvrsl_1", "amount": 5_000})
    assert settle_all()["razorpay"]["reversals"] == 1
    assert settle_all()["razorpay"]["reversals"] == 0
    reversal = Settlement.objects.get(amount=-5_000)
    assert json.loads(reverse.calls[0].request.body) == {"amount": 5_000,
                                                          "notes": {"kassa_settlement_id": str(reversal.pk)}}
    assert reverse.calls[0].request.headers["X-Transfer-Idempotency"] == f"kassa-settlement-{reversal.pk}"
    assert seller_balances(payment.seller)["INR"]["paid_out"] == 82_500


@responses.activate
def test_failed_transfer_releases_money_to_owed_and_is_retried():
    payment = completed()
    PayoutDestinationFactory(seller=payment.seller, method="razorpay", value="acc_AbCdEfGhIjKlMn")
    responses.get(f"{RZP}/v1/payments/pay_Settle00000001/transfers", json={"items": []})
    responses.post(f"{RZP}/v1/payments/pay_Settle00000001/transfers",
                   json={"items": [{"id": "trf_f", "status": "pending"}]})
    settle_all()
    assert settlement_mark(method="razorpay", provider_ref="trf_f", status="failed", failure_reason="inactive")
    assert seller_balances(payment.seller)["INR"]["owed"] == 97_500
    responses.replace(responses.POST, f"{RZP}/v1/payments/pay_Settle00000001/transfers",
                      json={"items": [{"id": "trf_g", "status": "pending"}]})
    assert settle_all()["razorpay"]["transfers"] == 1
    retry = Settlement.objects.get(status="in_flight", provider_ref="trf_g")
    entry = LedgerEntry.objects.get(payment=payment)
    assert entry.settlement_items.get(released_at__isnull=True).settlement == retry


@responses.activate
def test_timed_out_transfer_is_reconciled_not_sent_twice(monkeypatch):
    import requests

    monkeypatch.setattr("payments.providers.http.time.sleep", lambda s: None)
    payment = completed()
    PayoutDestinationFactory(seller=payment.seller, method="razorpay", value="acc_AbCdEfGhIjKlMn")
    responses.get(f"{RZP}/v1/payments/pay_Settle00000001/transfers", json={"items": []})
    create = responses.post(f"{RZP}/v1/payments/pay_Settle00000001/transfers", body=requests.Timeout())
    settle_all()
    settlement = Settlement.objects.get()
    assert settlement.status == "pending"
    # Razorpay did make it: the next run finds it by our note instead of creating another.
    responses.replace(responses.GET, f"{RZP}/v1/payments/pay_Settle00000001/transfers", json={"items": [
        {"id": "trf_t", "status": "processed", "notes": {"kassa_settlement_id": str(settlement.pk)}}]})
    settle_all()
    settlement.refresh_from_db()
    assert (settlement.status, settlement.provider_ref) == ("paid", "trf_t") and create.call_count == 1


@responses.activate
def test_a_transfer_whose_lookup_razorpay_refuses_fails_for_review_instead_of_staying_pending():
    """Razorpay answers the look-up before a transfer with a 4xx (it does not know the payment): that is a
    "no", so the transfer fails (and shows in the review queue) instead of staying pending and being tried
    again on every run. Found by `make soak`: demo history's payments never existed at the sandbox."""
    payment = completed()
    PayoutDestinationFactory(seller=payment.seller, method="razorpay", value="acc_AbCdEfGhIjKlMn")
    responses.get(f"{RZP}/v1/payments/pay_Settle00000001/transfers", status=400, json={"error": {
        "code": "BAD_REQUEST_ERROR", "description": "The id provided does not exist"}})
    create = responses.post(f"{RZP}/v1/payments/pay_Settle00000001/transfers", json={"items": []})
    settle_all()
    settlement = Settlement.objects.get()
    assert settlement.status == "failed" and "does not exist" in settlement.failure_reason
    assert create.call_count == 0
    assert seller_balances(payment.seller)["INR"]["owed"] == 97_500


def coinpay_seller_owed(*amounts):
    """A CoinPay seller with a wallet and these completed USD payments; CoinPay (mocked) has no
    payout yet and accepts one as po_1. Returns (seller, lookup mock, payout mock)."""
    seller = SellerFactory(fee_bps=100)
    for n, amount in enumerate(amounts):
        completed("coinpay", seller=seller, amount=amount, tx=f"tx_{n}", currency="USD")
    PayoutDestinationFactory(seller=seller, method="coinpay", value="wallet_seller_0001")
    responses.post(f"{CP}/api/auth/login", json={"token": "t", "expiresIn": 60})
    lookup = responses.get(f"{CP}/api/payouts", json={"success": True, "data": []})
    payout = responses.post(f"{CP}/api/payouts", json={"id": "po_1", "status": "Pending"})
    return seller, lookup, payout


@responses.activate
def test_coinpay_payout_of_net_balance_per_seller_once():
    seller, lookup, payout = coinpay_seller_owed(10_000, 20_000)
    assert settle_all()["coinpay"]["payouts"] == 1
    assert settle_all()["coinpay"]["payouts"] == 0
    body = json.loads(payout.calls[0].request.body)
    assert (body["amount"], body["walletId"]) == ("297.00", "wallet_seller_0001")
    settlement = Settlement.objects.get(kind="payout")
    assert payout.calls[0].request.headers["Idempotency-Key"] == f"kassa-settlement-{settlement.pk}"
    assert lookup.calls[0].request.params == {"settlementId": str(settlement.pk)}   # looked up before sending
    settlement_mark(method="coinpay", provider_ref="po_1", status="paid")
    assert seller_balances(seller)["USD"]["paid_out"] == 29_700


def ledger_writes(queries) -> list[str]:
    """UPDATE/DELETE statements aimed at the ledger table among captured queries."""
    return [q["sql"] for q in queries.captured_queries
            if q["sql"].lstrip().upper().startswith(("UPDATE", "DELETE"))
            and "payments_ledgerentry" in q["sql"].split(" SET ")[0].split(" WHERE ")[0]]


@responses.activate
def test_a_failed_payout_retried_covers_the_same_entries_once_and_never_touches_a_ledger_row():
    seller, _, _ = coinpay_seller_owed(10_000, 20_000)
    entries = set(LedgerEntry.objects.filter(seller=seller).values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as queries:
        assert settle_all()["coinpay"]["payouts"] == 1
        assert settlement_mark(method="coinpay", provider_ref="po_1", status="failed", failure_reason="closed")
        assert seller_balances(seller)["USD"]["owed"] == 29_700
        responses.replace(responses.POST, f"{CP}/api/payouts", json={"id": "po_2", "status": "Pending"})
        assert settle_all()["coinpay"]["payouts"] == 1
        assert settle_all()["coinpay"]["payouts"] == 0
    assert ledger_writes(queries) == []
    failed, retry = Settlement.objects.filter(kind="payout").order_by("pk")
    assert (failed.status, retry.status, retry.amount) == ("failed", "in_flight", 29_700)
    live = SettlementItem.objects.filter(entry_id__in=entries, released_at__isnull=True)
    assert sorted(live.values_list("entry_id", flat=True)) == sorted(entries)   # each entry once
    assert set(live.values_list("settlement_id", flat=True)) == {retry.pk}
    # The failed payout still shows what it covered, released.
    assert set(failed.items.filter(released_at__isnull=False).values_list("entry_id", flat=True)) == entries
    assert not LedgerEntry.objects.unsettled().filter(seller=seller).exists()
    assert seller_balances(seller)["USD"] == {"owed": 0, "in_flight": 29_700, "paid_out": 0, "fee_receivable": 0}


@responses.activate
def test_a_run_that_read_a_stale_unsettled_set_cannot_cover_an_entry_twice(monkeypatch):
    """A row lock on an entry does not change it, so a run whose read predates another run's
    commit may see covered entries as unsettled; the live-item unique index refuses them."""
    _, _, payout = coinpay_seller_owed(10_000)
    assert settle_all()["coinpay"]["payouts"] == 1
    monkeypatch.setattr("payments.settlement._unsettled", lambda method: LedgerEntry.objects.filter(method=method))
    assert settle_all()["coinpay"]["payouts"] == 0
    assert payout.call_count == 1 and Settlement.objects.filter(kind="payout").count() == 1
    assert SettlementItem.objects.count() == 1


def test_nano_fees_accrue_as_receivable_once():
    payment = PaymentFactory(order=OrderFactory(amount=1_000_000, seller=SellerFactory(fee_bps=250)))
    from payments.money import RAW_PER_MICRO_XNO

    observation_apply(observation=Observation(provider="nano", external_tx_id="N" * 64, confirmed=True,
                                              amount=payment.amount_due * RAW_PER_MICRO_XNO, pay_to=payment.pay_to))
    assert settle_all()["nano"]["fee_receivables"] == 1
    assert settle_all()["nano"]["fee_receivables"] == 0
    receivable = Settlement.objects.get(kind="fee_receivable")
    assert receivable.amount == 25_000
    assert seller_balances(payment.seller)["INR"]["fee_receivable"] == 25_000


def test_balances_are_tenant_scoped():
    payment = completed()
    other = SellerFactory()
    assert seller_balances(other) == {}
    assert seller_balances(payment.seller)["INR"]["owed"] == 97_500

"""Money under provider faults, against the sandbox process: a gateway that times out or
answers 5xx never makes Kassa pay twice (issue 15 items 2 and 6)."""
from contextlib import contextmanager

import pytest
import requests

from orders.actors import Actor
from payments.models import Payment, Refund, Settlement
from payments.providers.registry import get_provider
from payments.sandbox_client import simulate_gateway_payment
from payments.services import payment_refund, payment_start, refunds_reconcile_pending
from payments.settlement import settle_all
from sandbox.faults import SandboxFaults
from tests.factories import OrderFactory, PayoutDestinationFactory, SellerFactory
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def faults(gateway_sandbox, settings):
    knob = SandboxFaults(gateway_sandbox)
    knob.clear()
    settings.REFUND_RECONCILE_AFTER_SECONDS = 0
    yield knob
    knob.clear()


def paid(method, amount, currency):
    order = OrderFactory(seller=SellerFactory(), amount=amount, currency=currency)
    payment = payment_start(order_id=order.pk, method=method, actor=Actor.shopper("test"))
    simulate_gateway_payment(payment)
    wait_for(lambda: Payment.objects.get(pk=payment.pk).status == "completed", message=f"{method} completed")
    return Payment.objects.get(pk=payment.pk)


def books(url):
    return requests.get(f"{url}/_sandbox/books", timeout=5).json()


@contextmanager
def short_timeout(method):
    """Kassa's calls to `method` give up after 0.5 s inside the block, so a hung call times out
    fast. The lookups afterwards get the usual timeout: on a loaded machine 0.5 s is too tight
    for a call that is not hung."""
    client = get_provider(method).client
    usual = client.timeout, client.retry.base_delay
    client.timeout, client.retry.base_delay = 0.5, 0.05
    try:
        yield
    finally:
        client.timeout, client.retry.base_delay = usual


def test_razorpay_refund_that_hangs_past_the_timeout_is_refunded_once(gateway_sandbox, faults):
    payment = paid("razorpay", 250_000, "INR")
    # No webhooks: only the reconciling tick can learn the outcome.
    requests.post(f"{gateway_sandbox}/razorpay/_sandbox/config", json={"webhook_url": ""}, timeout=5)
    # Every try of the first call hangs past Kassa's timeout; the sandbox still does the work.
    faults.add(r"/refund$", "hang", method="POST", count=3, hang_seconds=1.5)
    with short_timeout("razorpay"):
        refund = payment_refund(payment=payment, actor=Actor.system("seller"), amount_minor=50_000)
    assert Refund.objects.get(pk=refund.pk).status == "pending"
    wait_for(lambda: any(r["payment_id"] == payment.tx_id for r in books(gateway_sandbox)["razorpay"]["refunds"]),
             message="the hung refund finished at the gateway")
    refunds_reconcile_pending()
    refunds_reconcile_pending()   # a second tick changes nothing
    assert [r.status for r in Refund.objects.filter(payment=payment)] == ["succeeded"]
    assert Payment.objects.get(pk=payment.pk).status == "partially_refunded"
    theirs = [r for r in books(gateway_sandbox)["razorpay"]["refunds"] if r["payment_id"] == payment.tx_id]
    assert [(r["amount"], r["notes"]["kassa_refund_id"]) for r in theirs] == [(50_000, str(refund.pk))]


def test_coinpay_refund_that_5xxs_is_resent_with_its_key_and_a_late_webhook_completes_it(gateway_sandbox, faults):
    payment = paid("coinpay", 10_050, "USD")
    faults.add(r"/refunds$", "5xx", method="POST", count=3)
    with short_timeout("coinpay"):
        refund = payment_refund(payment=payment, actor=Actor.system("seller"))
    assert Refund.objects.get(pk=refund.pk).status == "pending"
    refunds_reconcile_pending()   # not at the gateway: sent again with the same key
    wait_for(lambda: Refund.objects.get(pk=refund.pk).status == "succeeded", message="refund.completed webhook")
    refunds_reconcile_pending()
    assert Payment.objects.get(pk=payment.pk).status == "refunded"
    theirs = [r for r in books(gateway_sandbox)["coinpay"]["refunds"] if r["transactionId"] == payment.provider_ref]
    assert [r["metadata"]["refundId"] for r in theirs] == [str(refund.pk)]
    assert Refund.objects.filter(payment=payment, status="succeeded").count() == 1


# --- item 6: a payout or transfer whose call timed out is looked up before any resend ----------

def test_coinpay_payout_that_hangs_past_the_timeout_is_paid_once(gateway_sandbox, faults):
    payment = paid("coinpay", 20_000, "USD")
    PayoutDestinationFactory(seller=payment.seller, method="coinpay", value="wallet_faults_0001")
    requests.post(f"{gateway_sandbox}/coinpay/_sandbox/config", json={"webhook_url": ""}, timeout=5)
    faults.add(r"/api/payouts$", "hang", method="POST", count=3, hang_seconds=1.5)
    with short_timeout("coinpay"):
        assert settle_all()["coinpay"]["payouts"] == 1
    settlement = Settlement.objects.get(kind="payout", seller=payment.seller)
    assert (settlement.status, settlement.provider_ref) == ("pending", "")
    wait_for(lambda: any(p["metadata"].get("settlementId") == str(settlement.pk)
                         for p in books(gateway_sandbox)["coinpay"]["payouts"]),
             message="the hung payout finished at the gateway")
    assert settle_all()["coinpay"]["retried"] == 1
    settle_all()
    settlement.refresh_from_db()
    assert settlement.status == "paid" and settlement.provider_ref.startswith("po_")
    theirs = [p for p in books(gateway_sandbox)["coinpay"]["payouts"]
              if p["metadata"].get("settlementId") == str(settlement.pk)]
    assert [p["id"] for p in theirs] == [settlement.provider_ref]


def test_razorpay_transfer_that_hangs_past_the_timeout_is_made_once(gateway_sandbox, faults):
    payment = paid("razorpay", 250_000, "INR")
    PayoutDestinationFactory(seller=payment.seller, method="razorpay", value="acc_FaultsAcc00001")
    requests.post(f"{gateway_sandbox}/razorpay/_sandbox/config", json={"webhook_url": ""}, timeout=5)
    faults.add(r"/transfers$", "hang", method="POST", count=1, hang_seconds=1.5)
    with short_timeout("razorpay"):
        settle_all()
    settlement = Settlement.objects.get(kind="transfer", payment=payment)
    assert (settlement.status, settlement.provider_ref) == ("pending", "")
    wait_for(lambda: any(t["source"] == payment.tx_id for t in books(gateway_sandbox)["razorpay"]["transfers"]),
             message="the hung transfer finished at the gateway")
    settle_all()
    settle_all()
    settlement.refresh_from_db()
    assert settlement.provider_ref.startswith("trf_") and settlement.status in ("paid", "in_flight")
    theirs = [t for t in books(gateway_sandbox)["razorpay"]["transfers"] if t["source"] == payment.tx_id]
    assert [t["id"] for t in theirs] == [settlement.provider_ref]

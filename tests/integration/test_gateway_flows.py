"""Razorpay and CoinPay end to end: Kassa (live_server) ↔ the sandbox process over real HTTP.

checkout → pay → signed webhook → completed → ledger → settlement transfer/payout;
the failed path; a partial refund then the rest; a replayed and a tampered webhook.
"""
import json

import pytest
import requests
import responses

from orders.actors import Actor
from payments.models import (
    InboundWebhook,
    LedgerEntry,
    Payment,
    PaymentEvent,
    Receipt,
    Refund,
    Settlement,
    SettlementItem,
)
from payments.providers.registry import reset_providers
from payments.providers.signatures import hmac_sha256_hex, razorpay_payment_signature
from payments.sandbox_client import simulate_gateway_payment
from payments.selectors_settlement import seller_balances
from payments.services import payment_refund, payment_start, payment_verify
from payments.settlement import settle_all
from payments.webhooks import inbound_webhook_receive
from sellers.models import PayoutDestination
from tests.concurrency import run_at_once
from tests.factories import GatewayPaymentFactory, OrderFactory, PayoutDestinationFactory, SellerFactory
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def status_of(payment):
    return Payment.objects.values_list("status", flat=True).get(pk=payment.pk)


def start(method, amount=250_000, currency="INR"):
    seller = SellerFactory(fee_bps=200)
    order = OrderFactory(seller=seller, amount=amount, currency=currency)
    return payment_start(order_id=order.pk, method=method, actor=Actor.shopper("test"))


def settle_transfers() -> int:
    """Run settle until it creates a transfer: a run skips a payment whose row a webhook task still
    holds (skip_locked), and the next run takes it, as beat's next daily run would."""
    return wait_for(lambda: settle_all()["razorpay"]["transfers"], timeout=10, message="a transfer created")


def test_razorpay_full_flow_pay_settle_refund_twice(gateway_sandbox, live_server):
    payment = start("razorpay")
    assert payment.provider_ref.startswith("order_") and payment.checkout_params["order_id"] == payment.provider_ref
    PayoutDestinationFactory(seller=payment.seller, method="razorpay", value="acc_LinkedAcc00001")

    simulate_gateway_payment(payment)
    wait_for(lambda: status_of(payment) == "completed", message="payment completed by webhook")
    wait_for(lambda: InboundWebhook.objects.filter(provider="razorpay", status="processed").count() == 3,
             message="authorized, captured and order.paid processed")
    payment.refresh_from_db()
    assert payment.tx_id.startswith("pay_") and payment.order.status == "paid"
    entry = LedgerEntry.objects.get(payment=payment)
    assert (entry.gross, entry.fee, entry.net) == (250_000, 5_000, 245_000)

    assert settle_transfers() == 1
    transfer = Settlement.objects.get(kind="transfer")
    assert transfer.provider_ref.startswith("trf_") and transfer.amount == 245_000
    wait_for(lambda: Settlement.objects.get(pk=transfer.pk).status == "paid", message="transfer.processed")

    first = payment_refund(payment=payment, actor=Actor.system("test"), amount_minor=50_000)
    assert first.provider_refund_id.startswith("rfnd_")
    wait_for(lambda: Refund.objects.get(pk=first.pk).status == "succeeded", message="refund.processed")
    assert status_of(payment) == "partially_refunded"
    rest = payment_refund(payment=payment, actor=Actor.system("test"))
    assert rest.amount == 200_000
    wait_for(lambda: Refund.objects.get(pk=rest.pk).status == "succeeded", message="second refund.processed")
    assert status_of(payment) == "refunded"

    # Each refund reverses that much of the transfer, up to what was transferred; the platform
    # kept its fee, so the seller ends up owing it.
    assert settle_all()["razorpay"]["reversals"] == 2
    balances = seller_balances(payment.seller)["INR"]
    assert (balances["paid_out"], balances["owed"]) == (0, -5_000)
    sandbox_info = requests.get(f"{gateway_sandbox}/razorpay/_sandbox/info").json()
    assert sandbox_info["counts"]["refunds"] >= 2


def test_razorpay_transfer_that_fails_is_retried_and_covers_its_entry_once(gateway_sandbox, live_server):
    payment = start("razorpay")
    # The sandbox fails transfers to an account id with "FAIL" in it (linked account not activated).
    destination = PayoutDestinationFactory(seller=payment.seller, method="razorpay", value="acc_FAILNotActive1")
    simulate_gateway_payment(payment)
    wait_for(lambda: status_of(payment) == "completed", message="payment completed by webhook")
    entry = LedgerEntry.objects.get(payment=payment)

    assert settle_transfers() == 1
    failed = Settlement.objects.get(kind="transfer")
    wait_for(lambda: Settlement.objects.get(pk=failed.pk).status == "failed", message="transfer.failed")
    assert LedgerEntry.objects.unsettled().filter(pk=entry.pk).exists()
    assert seller_balances(payment.seller)["INR"]["owed"] == 245_000

    PayoutDestination.objects.filter(pk=destination.pk).update(value="acc_LinkedAcc00002")
    assert settle_transfers() == 1
    assert settle_all()["razorpay"]["transfers"] == 0
    retry = Settlement.objects.exclude(pk=failed.pk).get(kind="transfer")
    wait_for(lambda: Settlement.objects.get(pk=retry.pk).status == "paid", message="transfer.processed")
    items = [(i.settlement_id, i.released_at is None) for i in SettlementItem.objects.filter(entry=entry)]
    assert sorted(items) == [(failed.pk, False), (retry.pk, True)]   # covered once; the failure on record
    assert seller_balances(payment.seller)["INR"] == {"owed": 0, "in_flight": 0, "paid_out": 245_000,
                                                      "fee_receivable": 0}
    transfers = requests.get(f"{gateway_sandbox}/_sandbox/books", timeout=5).json()["razorpay"]["transfers"]
    assert sorted((t["recipient"], t["status"]) for t in transfers if t["source"] == entry.payment.tx_id) == [
        ("acc_FAILNotActive1", "failed"), ("acc_LinkedAcc00002", "processed")]


def test_razorpay_failed_attempt_then_paid_completes_without_review(gateway_sandbox):
    """The sandbox's _sandbox/pay with fail: true, then again without: one Razorpay order, two
    attempts. The declined card is recorded; the second attempt completes the payment."""
    payment = start("razorpay")
    simulate_gateway_payment(payment, fail=True)
    wait_for(lambda: Receipt.objects.filter(payment=payment, state="failed").exists(),
             message="failed attempt recorded")
    assert status_of(payment) == "pending"
    assert not LedgerEntry.objects.filter(payment=payment).exists()
    assert PaymentEvent.objects.filter(payment=payment, type="payment.attempt_failed").count() == 1

    simulate_gateway_payment(payment)
    wait_for(lambda: status_of(payment) == "completed", message="second attempt completed")
    payment.refresh_from_db()
    assert payment.exceptions == [] and payment.review_status != "open"
    assert payment.order.status == "paid" and LedgerEntry.objects.filter(payment=payment).count() == 1
    assert set(Receipt.objects.filter(payment=payment).values_list("state", flat=True)) == {"failed", "confirmed"}


def test_razorpay_out_of_order_delivery_still_completes(gateway_sandbox):
    payment = start("razorpay")
    requests.post(f"{gateway_sandbox}/razorpay/_sandbox/pay", json={"order_id": payment.provider_ref,
                                                                      "out_of_order": True})
    wait_for(lambda: InboundWebhook.objects.filter(status="processed").count() == 3, message="3 events")
    assert status_of(payment) == "completed"
    assert PaymentEvent.objects.filter(payment=payment, type="payment.completed").count() == 1


def test_replayed_and_tampered_webhooks_over_http(gateway_sandbox, live_server):
    payment = start("razorpay")
    simulate_gateway_payment(payment)
    wait_for(lambda: status_of(payment) == "completed", message="completed")
    # Another of the sandbox's webhooks may complete the payment first: wait for this one too.
    wait_for(lambda: InboundWebhook.objects.filter(event_type="payment.captured").exists(),
             message="payment.captured stored")
    row = InboundWebhook.objects.filter(event_type="payment.captured").get()
    headers = {"Content-Type": "application/json", "X-Razorpay-Signature": row.headers["x-razorpay-signature"],
               "X-Razorpay-Event-Id": row.event_id}
    replay = requests.post(f"{live_server.url}/webhooks/razorpay/", data=row.body.encode(), headers=headers)
    assert replay.status_code == 200 and replay.json()["duplicate"] is True
    tampered = row.body.replace(str(payment.amount), str(payment.amount * 10)).encode()
    answer = requests.post(f"{live_server.url}/webhooks/razorpay/", data=tampered,
                           headers={**headers, "X-Razorpay-Event-Id": "evt_forged"})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "signature_invalid"
    assert InboundWebhook.objects.filter(status="invalid").count() == 1
    assert PaymentEvent.objects.filter(payment=payment, type="payment.completed").count() == 1


def test_razorpay_capture_that_failed_is_retried_by_the_monitor(gateway_sandbox):
    """Authorized without auto-capture; the sandbox answers 500 to Kassa's next three calls (every
    try of the webhook's capture), so the payment waits in confirming; one monitor tick captures it."""
    from payments.monitor_gateways import tick_razorpay

    payment = start("razorpay")
    config = f"{gateway_sandbox}/razorpay/_sandbox/config"
    requests.post(config, json={"fault_500": 3})
    try:
        requests.post(f"{gateway_sandbox}/razorpay/_sandbox/pay", json={"order_id": payment.provider_ref,
                                                                         "capture": False})
        wait_for(lambda: status_of(payment) == "confirming", message="authorized")
        wait_for(lambda: requests.get(f"{gateway_sandbox}/razorpay/_sandbox/info").json()["config"]["fault_500"]
                 == 0, message="the webhook's capture tried and failed")
        assert status_of(payment) == "confirming"
        assert Payment.objects.get(pk=payment.pk).last_webhook_at is not None
    finally:
        requests.post(config, json={"fault_500": 0})

    assert tick_razorpay()["polled"] == 1
    assert status_of(payment) == "completed"
    assert LedgerEntry.objects.filter(payment=payment).count() == 1


def test_razorpay_handler_callback_over_http(gateway_sandbox, live_server):
    """The browser's POST back from the hosted checkout, verified server-side."""
    payment = start("razorpay")
    requests.post(f"{gateway_sandbox}/razorpay/_sandbox/config", json={"webhook_url": ""})  # no webhook help
    handler = requests.post(f"{gateway_sandbox}/razorpay/_sandbox/pay",
                            json={"order_id": payment.provider_ref}).json()["handler"]
    response = requests.post(f"{live_server.url}/checkout/{payment.order.checkout_token}/pay/razorpay/callback/",
                             data=handler, allow_redirects=False)
    assert response.status_code == 302 and response.headers["Location"].endswith("/done/")
    assert status_of(payment) == "completed"


def test_coinpay_full_flow_pay_refund_payout(gateway_sandbox):
    payment = start("coinpay", amount=10_050, currency="USD")
    assert payment.provider_ref.startswith("tx_") and payment.checkout_params["address"].startswith("0x")
    PayoutDestinationFactory(seller=payment.seller, method="coinpay", value="wallet_seller_0001")
    simulate_gateway_payment(payment)
    wait_for(lambda: status_of(payment) == "completed", message="transaction.completed")
    assert LedgerEntry.objects.get(payment=payment).net == 10_050 - 201

    first = payment_refund(payment=payment, actor=Actor.system("test"), amount_minor=1_000)
    wait_for(lambda: Refund.objects.get(pk=first.pk).status == "succeeded", message="refund.completed")
    payment_refund(payment=payment, actor=Actor.system("test"))
    wait_for(lambda: status_of(payment) == "refunded", message="refunded")

    second = start("coinpay", amount=20_000, currency="USD")
    PayoutDestinationFactory(seller=second.seller, method="coinpay", value="wallet_seller_0002")
    simulate_gateway_payment(second)
    wait_for(lambda: status_of(second) == "completed", message="second completed")
    assert settle_all()["coinpay"]["payouts"] == 1  # the fully refunded seller is owed nothing
    payout = Settlement.objects.get(kind="payout")
    assert payout.amount == 20_000 - 400 and payout.seller_id == second.seller_id
    wait_for(lambda: Settlement.objects.get(pk=payout.pk).status == "paid", message="payout.completed")


def test_coinpay_failed_path(gateway_sandbox):
    payment = start("coinpay", amount=5_000, currency="USD")
    simulate_gateway_payment(payment, fail=True)
    wait_for(lambda: status_of(payment) == "failed", message="transaction.failed")


@pytest.mark.postgres
def test_webhook_and_handler_verify_at_the_same_moment_complete_once(settings):
    """Postgres row locks: the webhook task and the shopper's callback race; one completion wins."""
    settings.RAZORPAY_API_URL, settings.RAZORPAY_KEY_SECRET = "https://rzp.race", "key_secret"
    settings.RAZORPAY_WEBHOOK_SECRET = "whsec_race"
    reset_providers()
    payment = GatewayPaymentFactory(provider_ref="order_Race000000001")
    entity = {"id": "pay_Race000000001", "entity": "payment", "amount": payment.amount_due,
              "currency": payment.pay_currency, "status": "captured", "order_id": payment.provider_ref}
    body = json.dumps({"event": "payment.captured", "payload": {"payment": {"entity": entity}}}).encode()
    headers = {"X-Razorpay-Signature": hmac_sha256_hex("whsec_race", body), "X-Razorpay-Event-Id": "evt_race"}
    signature = razorpay_payment_signature(payment.provider_ref, "pay_Race000000001", "key_secret")
    with responses.RequestsMock() as mock:
        mock.get("https://rzp.race/v1/payments/pay_Race000000001", json=entity)
        run_at_once(lambda: inbound_webhook_receive("razorpay", body, headers),
                    lambda: payment_verify(payment=payment, reference=f"pay_Race000000001:{signature}"))
    assert status_of(payment) == "completed"
    assert PaymentEvent.objects.filter(payment=payment, type="payment.completed").count() == 1
    assert LedgerEntry.objects.filter(payment=payment).count() == 1
    reset_providers()

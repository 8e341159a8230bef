"""Nano end to end over real HTTP: Kassa in-process, the sandbox node as a separate process
(`manage.py sandbox serve`, the `sandbox_process` fixture), one monitor tick at a time."""
import json
import time

import pytest

from core.nano_codec import RAW_PER_MICRO
from orders.actors import Actor
from payments.checks import payment_check
from payments.models import LedgerEntry, Payment, Receipt
from payments.monitor import monitor_tick
from payments.providers.errors import VerificationFailed
from payments.providers.nano_rpc import NanoRpcClient, NanoRpcError
from payments.providers.registry import reset_providers
from payments.sandbox_client import simulate_payment
from payments.services import (
    payment_expire_now,
    payment_release_reservations,
    payment_start,
    payment_verify,
    receipt_assign,
)
from tests.concurrency import run_at_once
from tests.factories import OrderFactory, PayoutDestinationFactory, SellerFactory
from tests.integration.conftest import start_sandbox

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def node(sandbox_process, settings):
    settings.SANDBOX_MODE = True
    client = NanoRpcClient(f"{sandbox_process}/nano", retries=0)
    yield client
    client.call("sandbox_fault", mode="none")


@pytest.fixture
def shop(node):
    seller = SellerFactory(default_currency="INR")
    PayoutDestinationFactory(seller=seller, method="nano")
    return seller


def start(shop, *, amount=49900, currency="INR") -> Payment:
    order = OrderFactory(seller=shop, amount=amount, currency=currency)
    return payment_start(order_id=order.pk, method="nano", actor=Actor.shopper())


def nano_tick() -> dict:
    return monitor_tick(("nano",))["nano"]


def reload(payment) -> Payment:
    return Payment.objects.select_related("order").get(pk=payment.pk)


def due(payment) -> int:
    return payment.amount_due * RAW_PER_MICRO


def test_send_then_one_tick_completes_the_payment_and_the_order(shop):
    payment = start(shop)
    assert payment.payment_uri == f"nano:{payment.pay_to}?amount={due(payment)}"
    sent = simulate_payment(payment)
    summary = nano_tick()
    payment = reload(payment)
    assert payment.status == "completed" and payment.tx_id == sent["block"]
    assert payment.order.status == "paid"
    entry = LedgerEntry.objects.get(payment=payment)
    assert entry.gross == payment.amount == entry.fee + entry.net and entry.custody == "seller"
    # receivable + frontiers, and at the address's first read blocks_info: which sends predate the payment
    assert summary["applied"] == 1 and summary["rpc_calls"] == 3 and summary["preexisting"] == 0


def test_a_send_the_wallet_already_received_is_found_through_history(shop):
    payment = start(shop)
    sent = simulate_payment(payment, auto_receive=True)
    assert sent["receive_block"]
    summary = nano_tick()
    assert reload(payment).status == "completed"
    assert summary["history_reads"] == 1 and summary["rpc_calls"] == 3
    receipt = Receipt.objects.get(payment=payment)
    assert receipt.external_tx_id == sent["block"] and receipt.data["via"] == "history"
    # The next tick: frontier unchanged, no history read, nothing new.
    again = nano_tick()
    assert (again["rpc_calls"], again["history_reads"], again["applied"]) == (2, 0, 0)


@pytest.fixture
def emulate(node):
    """The sandbox answers as this node version; the provider reads the version afresh."""
    def as_version(vendor: str) -> None:
        node.call("sandbox_version", node_vendor=vendor)

    reset_providers()
    yield as_version
    node.call("sandbox_version", node_vendor="")
    reset_providers()


def test_a_v23_node_is_read_with_accounts_pending(shop, node, emulate):
    emulate("Nano V23.3")
    payment = start(shop)
    sent = simulate_payment(payment)
    with pytest.raises(NanoRpcError, match="Unknown command"):
        node.call("accounts_receivable", accounts=[payment.pay_to], count=1)

    summary = nano_tick()

    assert reload(payment).status == "completed" and reload(payment).tx_id == sent["block"]
    assert summary["applied"] == 1


def test_a_node_swapped_for_a_v23_one_is_read_again(shop, emulate):
    payment = start(shop)
    assert nano_tick()["applied"] == 0  # the sandbox's own version is read and kept
    emulate("Nano V23.3")
    simulate_payment(payment)

    nano_tick()

    assert reload(payment).status == "completed"


def test_a_node_older_than_v23_is_refused_with_a_clear_error(shop, emulate, caplog):
    emulate("Nano V22.1")
    payment = start(shop)
    simulate_payment(payment)

    summary = nano_tick()

    assert summary == {"error": "UnsupportedNode"}
    assert reload(payment).status == "pending"
    assert "'Nano V22.1' is not supported: Kassa needs the Nano node V23.0 or newer" in caplog.text


def test_payment_after_expiry_is_paid_late_and_goes_to_review(shop):
    payment = start(shop)
    payment_expire_now(payment=payment, actor=Actor.system("test"))
    simulate_payment(payment, late=True)
    nano_tick()
    payment = reload(payment)
    assert payment.status == "expired" and "paid_late" in payment.exceptions and payment.review_status == "open"
    assert payment.order.status == "expired"


def test_an_amount_that_matches_nothing_becomes_an_unmatched_receipt(shop):
    payment = start(shop)
    other = start(shop)  # two active payments on the address: a stray amount is ambiguous
    stray = max(due(payment), due(other)) + 123 * RAW_PER_MICRO + 1
    simulate_payment(payment, amount_raw=stray)
    nano_tick()
    receipt = Receipt.objects.get(pay_to=payment.pay_to, amount=str(stray))
    assert receipt.payment is None and receipt.state == "confirmed"
    assert reload(payment).status == "pending" and reload(other).status == "pending"


def test_underpay_then_top_up(shop):
    payment = start(shop)
    first = due(payment) // 3
    simulate_payment(payment, amount_raw=first)
    nano_tick()
    # A partial is no evidence for any payment: staff assign it; then the same account's top-up is.
    receipt = Receipt.objects.get(pay_to=payment.pay_to, amount=str(first))
    assert receipt.payment is None
    receipt_assign(receipt=receipt, payment=payment, actor=Actor.system("staff"))
    payment = reload(payment)
    assert payment.status == "pending" and payment.amount_received == str(first)
    simulate_payment(payment, amount_raw=due(payment) - first, auto_receive=True)
    nano_tick()
    payment = reload(payment)
    assert payment.status == "completed" and payment.amount_received == str(due(payment))
    assert payment.receipts.count() == 2 and not payment.exceptions


def test_paying_twice_completes_once_and_flags_overpaid(shop):
    payment = start(shop)
    simulate_payment(payment)
    simulate_payment(payment)  # a wallet that sent twice
    nano_tick()
    payment = reload(payment)
    assert payment.status == "completed" and "overpaid" in payment.exceptions
    assert payment.amount_received == str(2 * due(payment))
    assert LedgerEntry.objects.filter(payment=payment).count() == 1


@pytest.mark.parametrize("mode", ["error500", "timeout", "garbage"])
def test_a_failing_node_changes_nothing(shop, node, settings, mode):
    settings.NANO_RPC_TIMEOUT, settings.NANO_RPC_RETRIES = 0.5, 1
    reset_providers()
    payment = start(shop)
    simulate_payment(payment)
    node.call("sandbox_fault", mode=mode, delay=1.5)
    assert nano_tick() == {"error": "ProviderUnavailable"}
    assert reload(payment).status == "pending" and not Receipt.objects.exists()
    node.call("sandbox_fault", mode="none")
    time.sleep(1.6 if mode == "timeout" else 0)  # let the stalled handler finish
    assert nano_tick()["applied"] == 1 and reload(payment).status == "completed"
    reset_providers()


def test_a_stopped_node_changes_nothing(shop, settings, tmp_path):
    process, url = start_sandbox(tmp_path)
    try:
        settings.NANO_RPC_URL, settings.NANO_RPC_RETRIES = f"{url}/nano", 1
        reset_providers()
        payment = start(shop)
        simulate_payment(payment)
    finally:
        process.terminate()
        process.wait(10)
    assert nano_tick() == {"error": "ProviderUnavailable"}
    assert reload(payment).status == "pending" and not Receipt.objects.exists()
    reset_providers()


def test_the_same_send_through_verify_and_poll_changes_state_once(shop):
    payment = start(shop)
    block = simulate_payment(payment)["block"]
    assert payment_verify(payment=payment, reference=block).status == "completed"
    assert nano_tick()["applied"] == 0
    payment_verify(payment=payment, reference=block)
    assert payment.events.filter(type="payment.completed").count() == 1
    assert Receipt.objects.filter(external_tx_id=block).count() == 1


def test_poll_first_then_verify_changes_nothing_more(shop):
    payment = start(shop)
    block = simulate_payment(payment)["block"]
    nano_tick()
    assert payment_verify(payment=payment, reference=block).status == "completed"
    assert payment.events.filter(type="payment.completed").count() == 1


def test_verify_without_a_reference_polls_the_address(shop):
    payment = start(shop)
    simulate_payment(payment, auto_receive=True)
    assert payment_check(payment=payment).status == "completed"


def test_a_block_that_paid_another_payment_is_refused(shop):
    first = start(shop)
    block = simulate_payment(first)["block"]
    nano_tick()
    # The slot is free again after the monitoring window; a new payment gets the same amount.
    Payment.objects.filter(pk=first.pk).update(reserved_until="2000-01-01T00:00:00Z")
    payment_release_reservations()
    second = start(shop)
    assert second.amount_due == first.amount_due
    with pytest.raises(VerificationFailed) as caught:
        payment_verify(payment=second, reference=block)
    assert caught.value.reason == "other_payment"
    assert reload(second).status == "pending"
    assert "disputed" in reload(second).exceptions and "disputed" in reload(first).exceptions


def test_verify_refuses_a_wrong_amount_over_http(shop):
    payment = start(shop)
    block = simulate_payment(payment, amount_raw=due(payment) - 1)["block"]
    with pytest.raises(VerificationFailed) as caught:
        payment_verify(payment=payment, reference=block)
    assert caught.value.reason == "wrong_amount"


def test_sandbox_pay_command_pays_late_with_a_tick(shop, capsys):
    from django.core.management import call_command

    payment = start(shop)
    call_command("sandbox_pay", str(payment.pk), "--late", "--tick")
    payment = reload(payment)
    assert payment.status == "expired" and "paid_late" in payment.exceptions


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_starts_for_one_seller_and_price_get_fifty_amounts():
    seller = SellerFactory()
    PayoutDestinationFactory(seller=seller, method="nano")
    orders = [OrderFactory(seller=seller, currency="XNO", amount=2_000_000) for _ in range(50)]
    started = run_at_once(*[lambda order=order: payment_start(order_id=order.pk, method="nano", actor=Actor.shopper())
                            for order in orders])
    ids = [payment.pk for payment in started]
    amounts = sorted(Payment.objects.filter(pk__in=ids).values_list("amount_due", flat=True))
    assert amounts == list(range(2_000_001, 2_000_051))  # k = 1 … 50: the bare price is nobody's


def test_a_nano_refund_succeeds_only_when_the_sellers_wallet_sends_it(shop, node):
    """End to end: the shopper pays from their own account; the refund waits for the seller;
    `sandbox_pay --refund` sends it from the seller's address; the next tick sees it on the node."""
    from io import StringIO

    from django.core.management import call_command

    from payments.models import Refund
    from payments.services import payment_refund
    from tests.factories import nano_address

    shopper = nano_address("e2e-refund-shopper")
    payment = start(shop)
    node.call("send", source=shopper, destination=payment.pay_to, amount=str(due(payment)), confirmed=True)
    nano_tick()
    payment = reload(payment)
    assert payment.status == "completed"
    refund = payment_refund(payment=payment, actor=Actor.system("seller"))
    assert (refund.status, refund.send_to, refund.amount_raw) == ("awaiting_seller", shopper, str(due(payment)))
    assert nano_tick()["refunds"] == {"awaiting": 1, "sends_seen": 0, "settled": 0}
    assert not LedgerEntry.objects.filter(payment=payment, kind="refund").exists()
    out = StringIO()
    call_command("sandbox_pay", "--refund", str(refund.pk), "--tick", stdout=out)
    block = json.loads(out.getvalue().splitlines()[0])["block"]
    refund = Refund.objects.get(pk=refund.pk)
    assert refund.status == "succeeded" and refund.provider_refund_id == block
    info = node.call("block_info", hash=block, json_block=True)
    assert info["block_account"] == payment.pay_to and info["contents"]["link_as_account"] == shopper
    assert reload(payment).status == "refunded" and reload(payment).order.status == "refunded"
    assert LedgerEntry.objects.get(payment=payment, kind="refund").gross == -payment.amount

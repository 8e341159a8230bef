"""Money that predates a payment never completes it, end to end: the sandbox node as a separate
process seeded with a real address's past (its test-only `sandbox_seed` and `sandbox_backdate`
actions), Kassa in-process, one monitor tick at a time."""
import time

import pytest

from core.nano_codec import RAW_PER_MICRO
from orders.actors import Actor
from payments.models import Payment, Receipt
from payments.monitor import monitor_tick
from payments.providers.nano_rpc import NanoRpcClient
from payments.sandbox_client import simulate_payment
from payments.services import payment_start
from tests.factories import OrderFactory, PayoutDestinationFactory, SellerFactory, nano_address

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

CUSTOMER = nano_address("a-customer-from-last-year")


@pytest.fixture
def node(sandbox_process, settings):
    settings.SANDBOX_MODE = True
    return NanoRpcClient(f"{sandbox_process}/nano", retries=0)


@pytest.fixture
def payment():
    seller = SellerFactory()
    PayoutDestinationFactory(seller=seller, method="nano")
    order = OrderFactory(seller=seller, amount=3_000_000, currency="XNO")
    return payment_start(order_id=order.pk, method="nano", actor=Actor.shopper())


def nano_tick() -> dict:
    return monitor_tick(("nano",))["nano"]


def reload(payment) -> Payment:
    return Payment.objects.get(pk=payment.pk)


def test_a_seeded_past_never_completes_a_new_payment_and_new_money_does(node, payment):
    due = str(payment.amount_due * RAW_PER_MICRO)
    resynced = int(payment.created_at.timestamp()) - 30  # the node stored its copy half a minute ago
    seeded = node.call("sandbox_seed", account=payment.pay_to, source=CUSTOMER,
                       history=[{"amount": due, "local_timestamp": "0"},
                                {"amount": due, "local_timestamp": str(resynced)}],
                       receivable=[{"amount": due, "local_timestamp": str(resynced)}])
    assert len(seeded["history"]) == 2 and len(seeded["receivable"]) == 1

    first = nano_tick()
    assert reload(payment).status == "pending" and not Receipt.objects.exists()
    assert first["preexisting"] == 1  # the old unreceived send (the history read stopped below the payment)

    # The seller's wallet now receives that old send: a new block, old money.
    node.call("receive_all", account=payment.pay_to)
    assert nano_tick()["applied"] == 0 and reload(payment).status == "pending"

    sent = simulate_payment(payment)
    assert nano_tick()["applied"] == 1
    assert reload(payment).status == "completed" and reload(payment).tx_id == sent["block"]


def test_a_backdated_block_sent_before_the_first_tick_is_pre_existing(node, payment):
    sent = simulate_payment(payment)
    backdated = node.call("sandbox_backdate", hash=sent["block"], local_timestamp=str(int(time.time()) - 3600))
    assert backdated == {"hash": sent["block"], "local_timestamp": str(int(time.time()) - 3600)}
    assert node.block_info(sent["block"]).local_timestamp == int(backdated["local_timestamp"])

    assert nano_tick()["preexisting"] == 1
    assert reload(payment).status == "pending" and not Receipt.objects.exists()

"""A Nano payment completes from the node's websocket, with no beat tick: the sandbox node
as a real process (RPC and websocket), the listener on a thread of this process with its
own database connection, reading addresses and applying facts through the real monitor."""
import time

import pytest

from orders.actors import Actor
from payments.models import Payment, Receipt
from payments.monitor import monitor_tick
from payments.sandbox_client import simulate_payment
from payments.services import payment_start
from tests.factories import OrderFactory, PayoutDestinationFactory, SellerFactory
from tests.integration.conftest import _shares_database_across_threads, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shop(sandbox_process, settings):
    if not _shares_database_across_threads():
        pytest.skip("needs PostgreSQL (DATABASE_URL) or a file SQLite test DB (SQLITE_TEST_NAME=var/test.sqlite3)")
    settings.SANDBOX_MODE = True
    seller = SellerFactory(default_currency="INR")
    PayoutDestinationFactory(seller=seller, method="nano")
    return seller


def start_payment(shop) -> Payment:
    order = OrderFactory(seller=shop, amount=49900, currency="INR")
    return payment_start(order_id=order.pk, method="nano", actor=Actor.shopper())


def status(payment) -> str:
    return Payment.objects.get(pk=payment.pk).status


def test_a_payment_completes_from_the_websocket_alone(shop, nano_listener):
    payment = start_payment(shop)
    listener = nano_listener()
    assert payment.pay_to in listener.watching
    sent = simulate_payment(payment)
    wait_for(lambda: status(payment) == "completed", timeout=10, message="the websocket-triggered check")
    receipt = Receipt.objects.get(payment=payment)
    assert receipt.external_tx_id == sent["block"]
    assert Payment.objects.get(pk=payment.pk).order.status == "paid"


def test_an_address_that_starts_waiting_later_is_followed_too(shop, nano_listener):
    listener = nano_listener()
    payment = start_payment(shop)
    wait_for(lambda: payment.pay_to in listener.watching, timeout=10, message="the subscription update")
    simulate_payment(payment)
    wait_for(lambda: status(payment) == "completed", timeout=10, message="the websocket-triggered check")


def test_the_beat_tick_after_the_websocket_changes_nothing_more(shop, nano_listener):
    payment = start_payment(shop)
    nano_listener()
    simulate_payment(payment)
    wait_for(lambda: status(payment) == "completed", timeout=10, message="the websocket-triggered check")
    assert monitor_tick(("nano",))["nano"]["applied"] == 0
    assert payment.events.filter(type="payment.completed").count() == 1
    assert Receipt.objects.filter(payment=payment).count() == 1


def test_duplicate_confirmations_of_every_type_complete_a_payment_once(shop, nano_listener, settings):
    import requests

    def node(**body):
        return requests.post(settings.NANO_RPC_URL, json=body, timeout=5).json()

    node(action="sandbox_ws", duplicate_every="1")  # every confirmation twice
    try:
        payment = start_payment(shop)
        nano_listener()
        sent = node(action="send", destination=payment.pay_to, amount=str(payment.amount_due * 10**24),
                    auto_receive=True, confirmed=False)
        node(action="confirm", hash=sent["receive_block"])  # the send comes as a dependency: another type
        wait_for(lambda: status(payment) == "completed", timeout=10, message="the websocket-triggered check")
        time.sleep(0.5)  # the duplicates' checks have run
    finally:
        node(action="sandbox_ws", duplicate_every="5")
    assert payment.events.filter(type="payment.completed").count() == 1
    assert Receipt.objects.filter(payment=payment).count() == 1

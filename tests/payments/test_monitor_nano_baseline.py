"""Money that predates a payment never completes it (issue 21 item 1).

The monitor tick runs for real (NanoProvider, NanoRpcClient, observation_apply) against a scripted node
answering in the real node's shapes: an address with history and unreceived sends from before the payment.
"""
import pytest
import responses

from core.nano_codec import RAW_PER_MICRO
from payments.models import NanoCursor, Receipt
from payments.monitor_nano import tick
from payments.providers.nano import NanoProvider
from tests.factories import PaymentFactory, nano_address
from tests.payments.nano_fake_node import FakeNode

pytestmark = pytest.mark.django_db

RPC = "http://node.test/rpc"
SENDER = nano_address("an-old-customer")
RESYNC_SECONDS = 60  # the node re-synced a minute before the payment: old blocks look a minute old


@pytest.fixture
def payment(settings):
    settings.NANO_RPC_URL = RPC
    return PaymentFactory()


@pytest.fixture
def node(payment):
    fake = FakeNode(payment.pay_to)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.add_callback(responses.POST, RPC, callback=fake)
        yield fake


def due(payment) -> int:
    return payment.amount_due * RAW_PER_MICRO


def run_tick(payment):
    summary = tick(provider=NanoProvider())
    payment.refresh_from_db()
    return summary


def created(payment) -> int:
    return int(payment.created_at.timestamp())


def test_resynced_history_with_recent_timestamps_does_not_complete_a_new_payment(payment, node):
    # Two receives from years ago adding up to the amount due; the node stored them again a minute ago.
    half = payment.amount_due // 2
    node.receive("old-1", half * RAW_PER_MICRO, sender=SENDER, timestamp=created(payment) - RESYNC_SECONDS)
    node.receive("old-2", due(payment) - half * RAW_PER_MICRO, sender=SENDER,
                 timestamp=created(payment) - RESYNC_SECONDS)
    node.receive("old-3", due(payment), sender=SENDER, timestamp=created(payment) - RESYNC_SECONDS)

    run_tick(payment)
    run_tick(payment)

    assert payment.status == "pending" and not Receipt.objects.exists()


def test_history_from_before_v18_with_zero_timestamps_does_not_complete_a_new_payment(payment, node):
    node.receive("ancient", due(payment), sender=SENDER, timestamp=0)

    run_tick(payment)

    assert payment.status == "pending" and not Receipt.objects.exists()


def test_a_pre_existing_unreceived_send_of_the_exact_amount_does_not_complete_a_new_payment(payment, node):
    node.receive("opened-long-ago", RAW_PER_MICRO, sender=SENDER, timestamp=created(payment) - 86400)
    old_send = node.pending("old-send", due(payment), sender=SENDER, timestamp=created(payment) - RESYNC_SECONDS)

    run_tick(payment)
    assert payment.status == "pending"
    # The seller's wallet receives it after the payment started: the receive is new, the money is not.
    node.wallet_receives(old_send, timestamp=created(payment) + 5)
    run_tick(payment)

    assert payment.status == "pending" and not Receipt.objects.exists()
    assert NanoCursor.objects.get(address=payment.pay_to).preexisting == [old_send]


def test_new_money_still_completes_the_payment_next_to_pre_existing_money(payment, node):
    node.receive("opened-long-ago", RAW_PER_MICRO, sender=SENDER, timestamp=0)
    node.pending("old-send", due(payment), sender=SENDER, timestamp=0)
    run_tick(payment)
    new_send = node.pending("new-send", due(payment), sender=nano_address("shopper"),
                            timestamp=created(payment) + 20)

    run_tick(payment)

    assert payment.status == "completed" and payment.tx_id == new_send


def test_money_sent_between_the_start_and_the_first_tick_completes_the_payment(payment, node):
    # The node was unreachable when the payment started: the baseline is taken at the first good tick,
    # and what the node stored after the payment was created is new.
    node.receive("opened-long-ago", RAW_PER_MICRO, sender=SENDER, timestamp=created(payment) - 86400)
    new_send = node.pending("paid-quickly", due(payment), sender=nano_address("shopper"),
                            timestamp=created(payment) + 3)

    run_tick(payment)

    assert payment.status == "completed" and payment.tx_id == new_send


def test_new_money_completes_even_when_the_nodes_clock_is_behind(payment, node):
    # The address had no blocks at the first tick; the shopper's send is then received by the wallet.
    # The node's clock is 10 minutes behind ours: its timestamp says "before the payment", the ledger says new.
    run_tick(payment)
    send = node.receive("open", due(payment), sender=nano_address("shopper"), timestamp=created(payment) - 600)

    run_tick(payment)

    assert payment.status == "completed" and payment.tx_id == send


# --- a shopper-reported block hash: the same rule as an address's first read -------------------------


@pytest.mark.parametrize(("stored_at", "accepted"), [(-3600, False), (None, False), (+4, True)])
def test_a_reported_send_the_node_stored_before_the_payment_started_is_refused(payment, stored_at, accepted):
    import json
    from pathlib import Path

    from payments.providers.errors import VerificationFailed

    case = json.loads((Path(__file__).parent / "providers" / "fixtures" / "nano_node" / "block_info_state_send.json")
                      .read_text())
    answer = {**case["response"], "amount": str(due(payment)),
              "local_timestamp": "0" if stored_at is None else str(created(payment) + stored_at),
              "contents": {**case["response"]["contents"], "link_as_account": payment.pay_to}}
    with responses.RequestsMock() as mocked:
        mocked.post(RPC, json=answer)
        if accepted:
            [obs] = NanoProvider().verify(payment, case["request"]["hash"])
            assert obs.payment_ref == str(payment.pk)
            return
        with pytest.raises(VerificationFailed) as refused:
            NanoProvider().verify(payment, case["request"]["hash"])
    assert refused.value.reason == "too_old" and "before this payment" in refused.value.user_message

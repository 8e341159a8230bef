"""A payment checked on someone's word: Nano without a block hash reads its address the monitor's way."""
import pytest

from core.nano_codec import RAW_PER_MICRO
from payments import tasks
from payments.checks import payment_check
from payments.models import NanoCursor, Payment
from payments.providers.base import Observation
from payments.providers.nano import ScanResult
from payments.services import payment_verify
from tests.factories import PaymentFactory
from tests.services_patch import use_provider

pytestmark = pytest.mark.django_db


class FakeNano:
    """Answers every read with the payment paid in full, and records which read was used."""

    def __init__(self, payment):
        self.payment, self.reads = payment, []

    def _paid(self, tx="A" * 64):
        return Observation(provider="nano", external_tx_id=tx, confirmed=True, pay_to=self.payment.pay_to,
                           amount=self.payment.amount_due * RAW_PER_MICRO)

    def scan(self, accounts):
        self.reads.append(("scan", [account.address for account in accounts]))
        return ScanResult(observations=[self._paid()], cursors={self.payment.pay_to: "F" * 64}, rpc_calls=2)

    def poll(self, payments):
        self.reads.append(("poll", [p.pk for p in payments]))
        return [self._paid()]

    def verify(self, payment, reference):
        self.reads.append(("verify", reference))
        return [self._paid(reference)]


@pytest.fixture
def paid_nano(monkeypatch):
    payment = PaymentFactory()
    provider = FakeNano(payment)
    monkeypatch.setattr("payments.monitor_nano.get_provider", lambda code: provider)
    use_provider(monkeypatch, lambda code: provider)
    return payment, provider


def test_a_check_without_a_hash_runs_the_monitor_tick_for_the_address(paid_nano):
    payment, provider = paid_nano
    assert payment_check(payment=payment).status == "completed"
    assert provider.reads == [("scan", [payment.pay_to])]
    assert NanoCursor.objects.get(address=payment.pay_to).frontier == "F" * 64  # the tick's cursor moved


def test_a_check_with_a_hash_verifies_that_block(paid_nano):
    payment, provider = paid_nano
    assert payment_check(payment=payment, reference="B" * 64).status == "completed"
    assert provider.reads == [("verify", "B" * 64)]


def test_the_queued_check_of_im_paid_reads_the_address_the_monitor_way(paid_nano):
    payment, provider = paid_nano
    tasks.verify_payment(str(payment.pk))
    assert provider.reads == [("scan", [payment.pay_to])]
    assert Payment.objects.get(pk=payment.pk).status == "completed"


def test_the_service_alone_polls_just_this_payment(paid_nano):
    """payment_verify sits below the monitors: without a hash it asks the provider about this payment."""
    payment, provider = paid_nano
    assert payment_verify(payment=payment).status == "completed"
    assert provider.reads == [("poll", [payment.pk])]

"""simulate_payment's dispatch and the `sandbox_pay` command's argument handling (no network)."""
import pytest
from django.core.management import CommandError, call_command

from payments import sandbox_client as simulate
from payments.providers.errors import ProviderNotConfigured, ProviderRejected
from tests.factories import GatewayPaymentFactory, PaymentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sends(monkeypatch, settings):
    """Capture the RPC `send` instead of calling a node."""
    settings.SANDBOX_MODE = True
    calls = []

    class FakeClient:
        def __init__(self, url, **kwargs):
            self.url, self.kwargs = url, kwargs

        def call(self, action, **params):
            calls.append((action, params, self.kwargs))
            return {"block": "B" * 64}

    monkeypatch.setattr(simulate, "NanoRpcClient", FakeClient)
    return calls


def test_nano_sends_exactly_the_amount_due_from_the_faucet_without_retries(sends):
    payment = PaymentFactory(amount_due=1_234_567)
    result = simulate.simulate_payment(payment)
    [(action, params, client_kwargs)] = sends
    assert action == "send" and params["source"] == "faucet" and params["destination"] == payment.pay_to
    assert params["amount"] == "1234567" + "0" * 24 and params["auto_receive"] is False
    assert client_kwargs["retries"] == 0
    assert result == {**result, "block": "B" * 64, "amount_raw": params["amount"]}


def test_nano_amount_and_auto_receive_can_be_chosen(sends):
    simulate.simulate_payment(PaymentFactory(), amount_raw=5, auto_receive=True)
    assert sends[0][1]["amount"] == "5" and sends[0][1]["auto_receive"] is True
    with pytest.raises(ProviderRejected):
        simulate.simulate_payment(PaymentFactory(), amount_raw=0)


def test_refused_outside_sandbox_mode(settings):
    settings.SANDBOX_MODE = False
    with pytest.raises(ProviderNotConfigured):
        simulate.simulate_payment(PaymentFactory())


def test_gateways_go_to_the_gateway_simulator(settings, monkeypatch):
    settings.SANDBOX_MODE = True
    seen = []
    monkeypatch.setattr(simulate, "simulate_gateway_payment",
                        lambda payment, fail, late: seen.append((payment.pk, fail, late)) or {"ok": 1})
    payment = GatewayPaymentFactory()
    assert simulate.simulate_payment(payment, late=True) == {"ok": 1}
    assert seen == [(payment.pk, False, True)]


def test_pay_command_rejects_unknown_ids_and_gateway_amounts(settings):
    settings.SANDBOX_MODE = True
    with pytest.raises(CommandError, match="No payment"):
        call_command("sandbox_pay", "not-a-uuid")
    with pytest.raises(CommandError, match="nano only"):
        call_command("sandbox_pay", str(GatewayPaymentFactory().pk), "--amount", "100")
    with pytest.raises(CommandError, match="XNO amount"):
        call_command("sandbox_pay", str(PaymentFactory().pk), "--amount", "1,5")


def test_pay_command_parses_xno_amounts(sends, capsys):
    payment = PaymentFactory()
    call_command("sandbox_pay", str(payment.pk), "--amount", "0.000001", "--auto-receive")
    assert sends[0][1]["amount"] == str(10**24) and sends[0][1]["auto_receive"] is True
    assert '"block"' in capsys.readouterr().out


def test_sandbox_pay_is_still_reachable_as_sandbox_pay_subcommand(sends, capsys):
    """`manage.py sandbox pay` (the sandbox app's command) forwards to `sandbox_pay` by name."""
    payment = PaymentFactory()
    call_command("sandbox", "pay", str(payment.pk), "--amount", "0.000001", "--auto-receive")
    assert sends[0][1]["amount"] == str(10**24) and sends[0][1]["auto_receive"] is True
    assert '"block"' in capsys.readouterr().out

"""The RPC client and the Nano provider against the real node's documented answers.

Each fixture in fixtures/nano_node/ is one request/response pair with its source in `_source`.
"""
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import responses

from payments.providers.errors import VerificationFailed
from payments.providers.nano_codec import RAW_PER_MICRO
from payments.providers.nano_rpc import AccountInfo

FIXTURES = Path(__file__).parent / "fixtures" / "nano_node"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def test_account_info_with_include_confirmed_reads_confirmed_height():
    case = fixture("account_info_include_confirmed")
    assert "confirmation_height" not in case["response"]
    info = AccountInfo.parse(case["request"]["account"], case["response"])
    assert info.confirmation_height == 22966
    assert info.confirmation_frontier == "80A6745762493FA21A22718ABFA4F635656A707B48B3324198AC7F3938DE6D4F"
    assert info.confirmed_balance == 11999999999999999918751838129509869131


@pytest.mark.parametrize("include_confirmed", [False, True])
def test_sandbox_account_info_has_the_nodes_keys(include_confirmed):
    from payments.sandbox.nano_node import FAUCET, NanoLedger, account_info

    ledger = NanoLedger()
    out = account_info(ledger, {"account": FAUCET, "include_confirmed": include_confirmed})
    if include_confirmed:
        case = fixture("account_info_include_confirmed")["response"]
        wanted = {k for k in case if not k.startswith(("representative", "weight", "pending", "receivable",
                                                          "confirmed_representative", "confirmed_pending",
                                                          "confirmed_receivable"))}
        wanted.add("representative_block")
        assert set(out) == wanted
    else:
        assert {"confirmation_height", "confirmation_height_frontier"} <= set(out)
        assert not any(key.startswith("confirmed_") for key in out)


# --- block_info on a legacy send (no subtype, no link_as_account) -----------------------------

RPC = "http://node.test/nano"
LEGACY_DESTINATION = "nano_18gmu6engqhgtjnppqam181o5nfhj4sdtgyhy36dan3jr9spt84rzwmktafc"


@pytest.fixture(autouse=True)
def node_url(settings):
    settings.NANO_RPC_URL = RPC


def legacy_provider():
    from payments.providers.nano import NanoProvider

    return NanoProvider()


def payment_to(pay_to, micro):
    return SimpleNamespace(pk="7b0b3a3e-0000-4000-8000-000000000002", pay_to=pay_to, amount_due=micro,
                           currency="XNO", rate=None, tx_id="")


@responses.activate
def test_verify_reads_the_destination_of_a_legacy_send():
    case = fixture("block_info_legacy_send")
    responses.post(RPC, json=case["response"])
    block_hash = case["request"]["hash"]

    [obs] = legacy_provider().verify(payment_to(LEGACY_DESTINATION, 1_500_000), block_hash)

    assert (obs.external_tx_id, obs.amount, obs.pay_to, obs.confirmed) == (
        block_hash, 1_500_000 * RAW_PER_MICRO, LEGACY_DESTINATION, True)
    assert obs.source_account == case["response"]["block_account"]


@responses.activate
def test_a_legacy_send_elsewhere_or_of_another_amount_is_refused():
    case = fixture("block_info_legacy_send")
    responses.post(RPC, json=case["response"])
    block_hash = case["request"]["hash"]
    other = case["response"]["block_account"]

    with pytest.raises(VerificationFailed) as wrong_place:
        legacy_provider().verify(payment_to(other, 1_500_000), block_hash)
    with pytest.raises(VerificationFailed) as wrong_amount:
        legacy_provider().verify(payment_to(LEGACY_DESTINATION, 1_500_001), block_hash)

    assert wrong_place.value.reason == "wrong_destination"
    assert wrong_amount.value.reason == "wrong_amount"

"""The RPC client and the Nano provider against the real node's documented answers.

Each fixture in fixtures/nano_node/ is one request/response pair with its source in `_source`.
"""
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import responses

from core.nano_codec import RAW_PER_MICRO
from payments.providers.errors import VerificationFailed
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
    from sandbox.nano_node import FAUCET, NanoLedger, account_info

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


# --- node versions -----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "major", "supported", "action"), [
    ("version_v25", 25, True, "accounts_receivable"),
    ("version_v23", 23, True, "accounts_pending"),
    ("version_docs", 20, False, "accounts_pending"),
])
def test_the_node_version_decides_the_receivable_action(name, major, supported, action):
    from payments.providers.nano_rpc import NodeVersion

    version = NodeVersion.parse(fixture(name)["response"])
    assert (version.major, version.supported, version.receivable_action) == (major, supported, action)


def test_the_sandbox_answers_version_with_the_nodes_keys():
    from sandbox.nano_node import NanoLedger, version

    assert set(version(NanoLedger(), {})) == set(fixture("version_v25")["response"])


@responses.activate
def test_a_v23_node_is_asked_accounts_pending():
    from payments.providers.nano_rpc import NanoRpcClient

    asked = []

    def answer(request):
        body = json.loads(request.body)
        asked.append(body["action"])
        if body["action"] == "version":
            return 200, {}, json.dumps(fixture("version_v23")["response"])
        if body["action"] == "accounts_receivable":
            return 200, {}, json.dumps(fixture("unknown_command")["response"])
        found = {"AB" * 32: {"amount": "5", "source": LEGACY_DESTINATION}}
        return 200, {}, json.dumps({"blocks": {LEGACY_DESTINATION: found}})

    responses.add_callback(responses.POST, RPC, callback=answer)
    client = NanoRpcClient(RPC, retries=0)
    assert [b.amount for b in client.accounts_receivable([LEGACY_DESTINATION], count=10)[LEGACY_DESTINATION]] == [5]
    client.accounts_receivable([LEGACY_DESTINATION], count=10)
    assert asked == ["version", "accounts_pending", "accounts_pending"]  # the version is asked once


@responses.activate
def test_accounts_frontiers_without_a_frontiers_key_is_no_frontier():
    from payments.providers.nano_rpc import NanoRpcClient
    from sandbox.nano_node import NanoLedger, accounts_frontiers

    case = fixture("accounts_frontiers_none_found")
    responses.post(RPC, json=case["response"])
    assert NanoRpcClient(RPC, retries=0).accounts_frontiers(case["request"]["accounts"]) == {}
    assert accounts_frontiers(NanoLedger(), case["request"]) == case["response"]


@responses.activate
def test_the_version_is_read_again_after_the_node_was_unreachable():
    import requests

    from payments.providers.errors import ProviderUnavailable
    from payments.providers.nano_rpc import NanoRpcClient, UnsupportedNode

    version = fixture("version_v25")["response"]
    responses.post(RPC, json=version)
    responses.post(RPC, json={"blocks": ""})
    responses.post(RPC, body=requests.ConnectionError("restarting"))
    responses.post(RPC, json={**version, "node_vendor": "Nano V22.1"})  # it came back older
    client = NanoRpcClient(RPC, retries=0)

    assert client.accounts_receivable([LEGACY_DESTINATION], count=1) == {}
    with pytest.raises(ProviderUnavailable):
        client.accounts_receivable([LEGACY_DESTINATION], count=1)
    with pytest.raises(UnsupportedNode):
        client.accounts_receivable([LEGACY_DESTINATION], count=1)

"""Kassa's RPC client and websocket listener read every recorded real-node answer in fixtures/nano_node/.

Each fixture names in `_source` the nano-docs page or nano-node source its shape follows.
"""
import json
from pathlib import Path

import pytest
import responses

from payments.nano_listener import SUBSCRIPTION_ID, is_our_ack, parse, touched_addresses
from payments.providers.nano import NanoProvider, WatchedAccount
from payments.providers.nano_rpc import NanoRpcClient, NanoRpcError

FIXTURES = Path(__file__).parent / "fixtures" / "nano_node"
RPC = "http://node.test/rpc"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


SHOP = fixture("account_history_raw_mixed")["request"]["account"]


@pytest.fixture(autouse=True)
def node_url(settings):
    settings.NANO_RPC_URL = RPC


def node_answering(*answers: dict, version: str = "version_v25") -> None:
    """The node answers `version` from its fixture, and each other call with the next answer."""
    pending = list(answers)

    def answer(request):
        body = json.loads(request.body)
        if body["action"] == "version":
            return 200, {}, json.dumps(fixture(version)["response"])
        return 200, {}, json.dumps(pending.pop(0))

    responses.add_callback(responses.POST, RPC, callback=answer)


def client() -> NanoRpcClient:
    return NanoRpcClient(RPC, retries=0)


def test_every_fixture_names_its_source():
    for path in FIXTURES.glob("*.json"):
        source = json.loads(path.read_text())["_source"]
        assert "nanocurrency/nano-docs" in source or "nanocurrency/nano-node" in source, path.name


# --- accounts_receivable, every shape -----------------------------------------------------------


@responses.activate
@pytest.mark.parametrize(("name", "expected"), [
    ("accounts_receivable_source", "amounts and sources"),
    ("accounts_receivable_threshold", "amounts"),
    ("accounts_receivable_simple", "hashes"),
    ("accounts_receivable_none", "nothing"),
    ("accounts_pending_v22_empty_account", "an empty account left out"),
])
def test_accounts_receivable_in_every_shape(name, expected):
    case = fixture(name)
    node_answering(case["response"])
    found = client().accounts_receivable(case["request"]["accounts"], count=500)
    blocks = case["response"]["blocks"]
    if blocks == "":
        assert found == {}
        return
    assert set(found) == {account for account, items in blocks.items() if items}, expected
    for account, items in blocks.items():
        if not items:
            continue
        parsed = {block.hash: block for block in found[account]}
        assert list(parsed) == list(items)  # the node's (hash) order is kept
        for block_hash, value in (items.items() if isinstance(items, dict) else ((h, None) for h in items)):
            block = parsed[block_hash]
            if isinstance(value, dict):
                assert (block.amount, block.source) == (int(value["amount"]), value["source"])
            else:
                assert block.amount == (int(value) if value else 0) and block.source == ""


@responses.activate
def test_a_bad_account_in_accounts_receivable_is_the_nodes_error():
    case = fixture("accounts_receivable_bad_account")
    node_answering(case["response"])
    with pytest.raises(NanoRpcError) as caught:
        client().accounts_receivable(case["request"]["accounts"], count=500)
    assert caught.value.rpc_error == "Bad account number"


# --- accounts_frontiers, V24 and V25 ----------------------------------------------------------


@responses.activate
@pytest.mark.parametrize("name", ["accounts_frontiers_v24", "accounts_frontiers_v25", "accounts_frontiers_none_found"])
def test_accounts_frontiers_keeps_only_real_frontiers(name):
    case = fixture(name)
    node_answering(case["response"])
    frontiers = case["response"].get("frontiers", {})
    expected = {account: value for account, value in frontiers.items() if not value.startswith("error")}
    assert client().accounts_frontiers(case["request"]["accounts"]) == expected


# --- account_history: state, legacy, change and epoch entries, "0" timestamps ----------------------


@responses.activate
def test_account_history_parses_every_entry_kind():
    case = fixture("account_history_raw_mixed")
    node_answering(case["response"])
    history = client().account_history(SHOP, count=100)
    kinds = [(entry.kind, entry.local_timestamp) for entry in history.entries]
    assert [kind for kind, _ in kinds] == ["receive", "change", "epoch", "change", "send", "receive", "receive"]
    assert [ts for _, ts in kinds][3:] == [0, 0, 0, 0]
    by_hash = {entry.hash: entry for entry in history.entries}
    for raw in case["response"]["history"]:
        entry = by_hash[raw["hash"]]
        assert entry.amount == int(raw.get("amount", "0")) and entry.height == int(raw["height"])
        # A receive names the send it received: `link` for a state block, `source` for a legacy receive/open.
        if raw.get("subtype") == "receive" or raw["type"] in ("receive", "open"):
            assert entry.link == raw.get("link", raw.get("source"))


@responses.activate
def test_the_history_scan_finds_state_and_legacy_receives_under_their_send_hash():
    case = fixture("account_history_raw_mixed")
    frontier = case["response"]["history"][0]["hash"]
    node_answering({"blocks": ""}, {"frontiers": {SHOP: frontier}}, case["response"])
    result = NanoProvider(client=client()).scan([WatchedAccount(SHOP, baseline=frozenset())])
    received = {raw.get("link") or raw.get("source"): int(raw["amount"]) for raw in case["response"]["history"]
                if raw.get("subtype") == "receive" or raw["type"] in ("receive", "open")}
    assert {obs.external_tx_id: obs.amount for obs in result.observations} == received
    assert len(received) == 3  # one state receive, one legacy receive, one legacy open


# --- block_info ------------------------------------------------------------------------------------


@responses.activate
@pytest.mark.parametrize("name", ["block_info_state_send", "block_info_legacy_send"])
def test_block_info_reads_the_destination_of_state_and_legacy_sends(name):
    case = fixture(name)
    node_answering(case["response"])
    block = client().block_info(case["request"]["hash"])
    contents = case["response"]["contents"]
    assert block.subtype == "send" and block.amount == int(case["response"]["amount"])
    assert block.link_as_account == contents.get("link_as_account", contents.get("destination"))
    assert block.confirmed and block.height == int(case["response"]["height"])


# --- the websocket ---------------------------------------------------------------------------------


def test_websocket_acks_of_our_subscription_are_recognized():
    for exchange in fixture("websocket_acks")["exchanges"]:
        answer = exchange["answer"]
        if answer is None:
            continue
        ours = exchange["request"].get("id") == SUBSCRIPTION_ID
        assert is_our_ack(parse(json.dumps(answer))) is ours


def test_every_confirmation_type_and_a_duplicate_touch_the_watched_address():
    messages = fixture("websocket_confirmations")["messages"]
    assert {m["message"]["confirmation_type"] for m in messages} == {
        "active_quorum", "active_confirmation_height", "inactive"}
    assert messages[0] == messages[-1]  # the node may report a block twice
    for message in messages:
        assert touched_addresses(parse(json.dumps(message)), {SHOP}) == {SHOP}

"""The sandbox Nano node's ledger and RPC shapes, called in-process (no HTTP)."""
import hashlib
import json

import pytest

from core.nano_codec import MAX_RAW, public_key_to_address
from sandbox.nano_node import (
    FAUCET,
    ZERO_HASH,
    NanoLedger,
    handle_rpc,
    state_block_hash,
)
from sandbox.server import Request


def address(seed: str) -> str:
    return public_key_to_address(hashlib.blake2b(seed.encode(), digest_size=32).digest())


SHOP, SHOPPER = address("shop"), address("shopper")


@pytest.fixture
def ledger():
    return NanoLedger(None)  # memory only


def rpc(ledger: NanoLedger, **body) -> dict:
    response = handle_rpc(ledger, Request("POST", "/nano", body=json.dumps(body).encode()))
    assert response.status == 200
    return json.loads(response.body)


def test_genesis_faucet_holds_the_supply(ledger):
    info = rpc(ledger, action="account_info", account=FAUCET)
    assert info["balance"] == str(MAX_RAW) and info["block_count"] == "1"


def test_block_hashes_are_state_block_hashes(ledger):
    sent = ledger.send(FAUCET, SHOP, 10)[0]
    assert sent.hash == state_block_hash(FAUCET, sent.previous, sent.representative, MAX_RAW - 10, sent.link)
    assert len(sent.hash) == 64 and sent.hash == sent.hash.upper()
    # The same history on a fresh ledger gives the same hashes (deterministic).
    assert NanoLedger(None).send(FAUCET, SHOP, 10)[0].hash == sent.hash


def test_unfunded_source_is_topped_up_from_the_faucet(ledger):
    sent = rpc(ledger, action="send", source=SHOPPER, destination=SHOP, amount="500")["block"]
    history = rpc(ledger, action="account_history", account=SHOPPER, count=5)["history"]
    assert [(e["type"], e["amount"], e["account"]) for e in history] == [
        ("send", "500", SHOP),
        ("receive", "500", FAUCET),
    ]
    assert history[0]["hash"] == sent
    assert rpc(ledger, action="account_info", account=SHOPPER)["balance"] == "0"


def test_errors_match_the_node(ledger):
    assert rpc(ledger, action="nope") == {"error": "Unknown command"}
    assert rpc(ledger, action="account_info", account="nano_123") == {"error": "Bad account number"}
    assert rpc(ledger, action="account_info", account=SHOP) == {"error": "Account not found"}
    assert rpc(ledger, action="block_info", hash="zz") == {"error": "Invalid block hash"}
    assert rpc(ledger, action="block_info", hash="0" * 64) == {"error": "Block not found"}
    assert rpc(ledger, action="account_history", account=SHOP) == {"error": "Unable to parse JSON"}
    assert rpc(ledger, action="send", destination=SHOP, amount="-5") == {"error": "Bad amount number"}
    assert rpc(ledger, action="send", destination=SHOP, amount="0") == {"error": "Invalid amount number"}
    bad = handle_rpc(ledger, Request("POST", "/nano", body=b"{nope"))
    assert json.loads(bad.body) == {"error": "Unable to parse JSON"}


def test_empty_results_use_the_nodes_empty_string(ledger):
    assert rpc(ledger, action="account_history", account=SHOP, count=5) == {"account": SHOP, "history": ""}
    assert rpc(ledger, action="accounts_receivable", accounts=[SHOP]) == {"blocks": ""}
    # V24+: no `frontiers` key at all when none was found (the node adds the child only when non-empty).
    assert rpc(ledger, action="accounts_frontiers", accounts=[SHOP, "nano_bad"]) == {
        "errors": {SHOP: "Account not found", "nano_bad": "Bad account number"},
    }


def test_an_emulated_v23_node_has_only_accounts_pending(ledger):
    rpc(ledger, action="sandbox_version", node_vendor="Nano V23.3")
    assert rpc(ledger, action="accounts_receivable", accounts=[SHOP]) == {"error": "Unknown command"}
    assert rpc(ledger, action="accounts_pending", accounts=[SHOP]) == {"blocks": ""}
    assert rpc(ledger, action="version")["node_vendor"] == "Nano V23.3"


def test_accounts_pending_says_it_is_deprecated_from_v24(ledger):
    assert rpc(ledger, action="accounts_pending", accounts=[SHOP]) == {"deprecated": "1", "blocks": ""}


def test_a_required_count_of_zero_is_invalid(ledger):
    ledger.send(FAUCET, SHOP, 1, auto_receive=True)
    assert rpc(ledger, action="account_history", account=SHOP, count="0") == {"error": "Invalid count"}
    assert rpc(ledger, action="account_history", account=SHOP, count="1x") == {"error": "Invalid count"}


def test_receivable_shapes_and_count_per_account(ledger):
    other = address("other shop")
    hashes = [ledger.send(FAUCET, SHOP, n)[0].hash for n in (5, 50, 500)]
    other_hash = ledger.send(FAUCET, other, 7)[0].hash
    body = {"action": "accounts_receivable", "accounts": [SHOP, other], "count": "2"}
    assert rpc(ledger, **body)["blocks"][SHOP] == hashes[:2]
    assert rpc(ledger, **body, threshold="50")["blocks"] == {SHOP: {hashes[1]: "50", hashes[2]: "500"}}
    sorted_ = rpc(ledger, **{**body, "count": "5"}, sorting=True)["blocks"][SHOP]
    assert list(sorted_.values()) == ["500", "50", "5"]
    with_source = rpc(ledger, **body, source="true")["blocks"]
    assert with_source[other] == {other_hash: {"amount": "7", "source": FAUCET}}


def test_confirm_cascades_to_dependencies(ledger):
    send = ledger.send(SHOPPER, SHOP, 10, confirmed=False)[0]
    receive = ledger.receive_all(SHOP)[0]
    assert not send.confirmed and not receive.confirmed
    assert rpc(ledger, action="account_info", account=SHOP)["confirmation_height"] == "0"

    confirmed = rpc(ledger, action="confirm", hash=receive.hash)["confirmed"]

    assert set(confirmed) == {receive.hash, send.hash}
    info = rpc(ledger, action="account_info", account=SHOP, include_confirmed=True)
    assert info["confirmed_height"] == "1" and info["confirmed_balance"] == "10"
    assert info["confirmed_frontier"] == receive.hash
    assert "confirmation_height" not in info and "confirmation_height_frontier" not in info


def test_block_info_successor_and_receive_hash(ledger):
    first, receive = ledger.send(FAUCET, SHOP, 1, auto_receive=True)
    second = ledger.send(FAUCET, SHOP, 2)[0]
    info = rpc(ledger, action="block_info", hash=first.hash, json_block="true")
    assert info["successor"] == second.hash
    assert rpc(ledger, action="block_info", hash=second.hash)["successor"] == ZERO_HASH
    assert isinstance(rpc(ledger, action="block_info", hash=first.hash)["contents"], str)  # json_block false
    found = rpc(ledger, action="blocks_info", hashes=[first.hash, second.hash], receive_hash=True, receivable=True)
    assert found["blocks"][first.hash]["receive_hash"] == receive.hash
    assert found["blocks"][second.hash]["receivable"] == "1"
    assert rpc(ledger, action="blocks_info", hashes=["AB" * 32]) == {"error": "Block not found"}


def test_block_info_ignores_the_options_only_blocks_info_has(ledger):
    first = ledger.send(FAUCET, SHOP, 1, auto_receive=True)[0]
    plain = rpc(ledger, action="block_info", hash=first.hash)
    asked = rpc(ledger, action="block_info", hash=first.hash, receivable="true", pending="true",
                receive_hash="true", source="true")
    assert asked == plain
    assert set(plain) == {"block_account", "amount", "balance", "height", "local_timestamp", "successor",
                          "confirmed", "contents", "subtype"}


def test_history_reverse_lists_oldest_first(ledger):
    hashes = [ledger.send(FAUCET, SHOP, n, auto_receive=True)[1].hash for n in (1, 2, 3)]
    out = rpc(ledger, action="account_history", account=SHOP, count=2, reverse=True)
    assert [e["hash"] for e in out["history"]] == hashes[:2] and out["next"] == hashes[2]


def test_fault_switch_counts_down(ledger):
    assert rpc(ledger, action="sandbox_fault", mode="error500", count=1)["mode"] == "error500"
    failing = handle_rpc(ledger, Request("POST", "/nano", body=b'{"action":"version"}'))
    assert failing.status == 500
    assert "node_vendor" in rpc(ledger, action="version")
    assert rpc(ledger, action="sandbox_fault", mode="bogus")["error"].startswith("Unknown fault mode")


def test_bulk_send_and_one_batch_read_cover_100k_sends_over_1000_accounts(ledger):
    # The benchmark's seeding path; its speed is measured in bench/, not asserted here.
    accounts = [address(f"acct {i}") for i in range(1000)]
    sends = [{"destination": accounts[i % 1000], "amount": str(10**24 + i)} for i in range(100_000)]
    assert rpc(ledger, action="bulk_send", sends=sends)["count"] == "100000"

    out = rpc(ledger, action="accounts_receivable", accounts=accounts, count="1000", source=True)

    assert sum(len(blocks) for blocks in out["blocks"].values()) == 100_000


# --- test-only: an address's past (issue 21 item 2) ---------------------------------------------


def test_seed_gives_an_address_a_past_that_survives_a_restart(tmp_path):
    path = tmp_path / "nano.jsonl"
    ledger = NanoLedger(path)
    announced = []
    ledger.on_confirmed.append(announced.extend)
    seeded = rpc(ledger, action="sandbox_seed", account=SHOP, source=SHOPPER,
                 history=[{"amount": "7", "local_timestamp": "0"}],
                 receivable=[{"amount": "9", "local_timestamp": "1500000000"}, {"amount": "11"}])
    assert len(seeded["history"]) == 1 and len(seeded["receivable"]) == 2 and announced == []
    rpc(ledger, action="sandbox_backdate", hash=seeded["receivable"][1], local_timestamp="1600000000")
    ledger.close()

    again = NanoLedger(path)
    [received] = rpc(again, action="account_history", account=SHOP, count=5, raw=True)["history"]
    assert (received["link"], received["local_timestamp"]) == (seeded["history"][0], "0")
    blocks = rpc(again, action="blocks_info", hashes=seeded["receivable"])["blocks"]
    assert [blocks[h]["local_timestamp"] for h in seeded["receivable"]] == ["1500000000", "1600000000"]
    pending = rpc(again, action="accounts_receivable", accounts=[SHOP], count=5, source=True)["blocks"][SHOP]
    assert set(pending) == set(seeded["receivable"])


@pytest.mark.parametrize(("body", "error"), [
    ({"action": "sandbox_backdate", "hash": "A" * 64, "local_timestamp": "1"}, "Block not found"),
    ({"action": "sandbox_backdate", "hash": "xyz", "local_timestamp": "1"}, "Bad hash number"),
    ({"action": "sandbox_seed", "account": SHOP, "history": "lots"}, "history and receivable are lists"),
    ({"action": "sandbox_seed", "account": SHOP, "history": [{"amount": "1", "local_timestamp": "-5"}]},
     "Invalid local_timestamp"),
])
def test_seed_and_backdate_refuse_bad_input_with_the_nodes_error_shape(ledger, body, error):
    assert rpc(ledger, **body)["error"].startswith(error)

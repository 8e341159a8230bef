"""NanoRpcClient against the real sandbox node, served over HTTP in a thread."""
import contextlib
import hashlib
import socket
import threading
import time

import pytest

from core.nano_codec import RAW_PER_MICRO, RAW_PER_XNO, public_key_to_address
from payments.providers.errors import ProviderRejected, ProviderUnavailable
from payments.providers.nano_rpc import NanoRpcClient, NanoRpcError, parse_receivable
from sandbox.nano_node import FAUCET
from sandbox.server import start_in_thread


def address(seed: str) -> str:
    return public_key_to_address(hashlib.blake2b(seed.encode(), digest_size=32).digest())


SHOP = address("seller shop")
SHOPPER = address("shopper")


@pytest.fixture
def node(tmp_path):
    server, _thread, base_url = start_in_thread(state_dir=tmp_path)
    yield base_url
    server.stop()


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(node, sleeps):
    # Record backoff sleeps instead of sleeping, so the retry tests are fast and exact.
    return NanoRpcClient(f"{node}/nano", timeout=2, retries=2, sleep=sleeps.append)


@pytest.fixture
def admin(node):
    """A second client for test-only actions, so counters on `client` stay clean."""
    return NanoRpcClient(f"{node}/nano", retries=0)


def test_send_shows_up_as_receivable_with_source(client, admin):
    sent = admin.call("send", source=SHOPPER, destination=SHOP, amount=str(5 * RAW_PER_MICRO))["block"]

    receivable = client.accounts_receivable([SHOP, address("nobody")], count=10)

    assert list(receivable) == [SHOP]
    (block,) = receivable[SHOP]
    assert (block.hash, block.amount, block.source, block.account) == (sent, 5 * RAW_PER_MICRO, SHOPPER, SHOP)


def test_receivable_raw_shape_matches_the_node(client, admin):
    sent = admin.call("send", destination=SHOP, amount="1000")["block"]
    data = client.call("accounts_receivable", accounts=[SHOP], count=1, source=True)
    assert data == {"blocks": {SHOP: {sent: {"amount": "1000", "source": FAUCET}}}}
    assert client.call("accounts_receivable", accounts=[SHOP], count=1) == {"blocks": {SHOP: [sent]}}
    assert client.call("accounts_receivable", accounts=[address("x")], count=1) == {"blocks": ""}


def test_receivable_without_source_still_has_amounts(client, admin):
    admin.call("send", destination=SHOP, amount="777")
    (block,) = client.accounts_receivable([SHOP], count=5, source=False)[SHOP]
    assert (block.amount, block.source) == (777, "")


def test_unconfirmed_sends_are_hidden_until_confirmed(client, admin):
    sent = admin.call("send", destination=SHOP, amount="42", confirmed=False)["block"]
    assert client.accounts_receivable([SHOP], count=5) == {}
    assert [b.hash for b in client.accounts_receivable([SHOP], count=5, include_only_confirmed=False)[SHOP]] == [sent]

    admin.call("confirm", hash=sent)

    assert [b.hash for b in client.accounts_receivable([SHOP], count=5)[SHOP]] == [sent]


def test_threshold_filters_small_sends(client, admin):
    admin.call("send", destination=SHOP, amount="10")
    big = admin.call("send", destination=SHOP, amount=str(RAW_PER_XNO))["block"]
    blocks = client.accounts_receivable([SHOP], count=5, threshold=RAW_PER_MICRO)[SHOP]
    assert [b.hash for b in blocks] == [big]


def test_auto_receive_moves_frontier_and_appears_in_history(client, admin):
    assert client.accounts_frontiers([SHOP]) == {}
    assert client.account_history(SHOP, count=10).entries == []

    result = admin.call("send", source=SHOPPER, destination=SHOP, amount=str(3 * RAW_PER_MICRO), auto_receive=True)

    frontiers = client.accounts_frontiers([SHOP, address("unopened")])
    assert frontiers == {SHOP: result["receive_block"]}
    history = client.account_history(SHOP, count=10)
    (entry,) = history.entries
    assert entry.hash == result["receive_block"]
    assert (entry.kind, entry.account, entry.link) == ("receive", SHOPPER, result["block"])
    assert entry.amount == 3 * RAW_PER_MICRO
    assert entry.confirmed and entry.height == 1 and entry.balance == 3 * RAW_PER_MICRO
    assert client.accounts_receivable([SHOP], count=10) == {}

    second = admin.call("send", destination=SHOP, amount="5", auto_receive=True)
    assert client.accounts_frontiers([SHOP]) == {SHOP: second["receive_block"]}


def test_history_pagination_with_head_and_offset(client, admin):
    hashes = [
        admin.call("send", destination=SHOP, amount=str(n), auto_receive=True)["receive_block"] for n in (1, 2, 3)
    ]

    first = client.account_history(SHOP, count=2)
    assert [e.hash for e in first.entries] == [hashes[2], hashes[1]]
    assert first.previous == hashes[0]

    rest = client.account_history(SHOP, count=2, head=first.previous)
    assert [e.hash for e in rest.entries] == [hashes[0]] and rest.previous is None

    skipped = client.account_history(SHOP, count=5, offset=1)
    assert [e.amount for e in skipped.entries] == [2, 1]


def test_history_raw_and_plain_shapes(client, admin):
    admin.call("send", destination=SHOP, amount="9", auto_receive=True)
    raw = client.call("account_history", account=SHOP, count=1, raw=True)["history"][0]
    plain = client.call("account_history", account=SHOP, count=1)["history"][0]
    assert raw["type"] == "state" and raw["subtype"] == "receive"
    assert {"link", "previous", "representative", "balance", "signature", "work"} <= set(raw)
    assert plain["type"] == "receive" and "subtype" not in plain
    for entry in (raw, plain):
        assert entry["amount"] == "9" and entry["height"] == "1" and entry["confirmed"] == "true"
        assert entry["local_timestamp"].isdigit()


def test_block_info_for_a_send(client, admin):
    sent = admin.call("send", source=SHOPPER, destination=SHOP, amount="123456")["block"]

    data = client.call("block_info", hash=sent, json_block=True)

    assert data["subtype"] == "send"
    assert data["confirmed"] == "true"
    assert data["block_account"] == SHOPPER
    assert data["amount"] == "123456"
    assert all(isinstance(data[key], str) for key in ("amount", "balance", "height", "local_timestamp"))
    contents = data["contents"]
    assert contents["type"] == "state"
    assert contents["link_as_account"] == SHOP
    assert contents["account"] == SHOPPER
    assert set(contents) == {
        "type", "account", "previous", "representative", "balance", "link", "link_as_account", "signature", "work"
    }

    info = client.block_info(sent.lower())
    assert info.hash == sent
    assert (info.subtype, info.link_as_account, info.amount, info.confirmed) == ("send", SHOP, 123456, True)
    assert info.balance == int(data["balance"])


def test_unknown_things_are_empty_not_errors(client):
    assert client.block_info("AB" * 32) is None
    assert client.account_info(SHOP) is None
    assert client.account_history(SHOP, count=5).entries == []
    assert client.blocks_info(["CD" * 32]) == {}
    assert client.blocks_info([]) == {}


def test_account_info_and_blocks_info(client, admin):
    first = admin.call("send", destination=SHOP, amount="100", auto_receive=True)
    pending = admin.call("send", destination=SHOP, amount="7")["block"]

    info = client.account_info(SHOP, receivable=True, include_confirmed=True)
    assert (info.frontier, info.open_block, info.balance) == (first["receive_block"], first["receive_block"], 100)
    assert (info.block_count, info.confirmation_height, info.receivable, info.confirmed_balance) == (1, 1, 7, 100)

    found = client.blocks_info([first["block"], pending, "EF" * 32], receivable=True)
    assert set(found) == {first["block"], pending}
    assert found[pending].raw["receivable"] == "1" and found[first["block"]].raw["receivable"] == "0"


def test_rpc_error_is_provider_rejected_with_the_message(client):
    with pytest.raises(NanoRpcError) as excinfo:
        client.call("account_info", account="nano_notanaddress")
    assert isinstance(excinfo.value, ProviderRejected)
    assert excinfo.value.rpc_error == "Bad account number"
    assert not excinfo.value.not_found
    assert excinfo.value.user_message  # safe for shoppers, without the node's text
    with pytest.raises(NanoRpcError, match="Unknown command"):
        client.call("no_such_action")
    with pytest.raises(NanoRpcError) as excinfo:
        client.call("account_info", account=SHOP)
    assert excinfo.value.not_found


def test_http_4xx_is_rejected_without_retry(node, sleeps):
    client = NanoRpcClient(f"{node}/not-the-rpc", retries=2, sleep=sleeps.append)
    with pytest.raises(ProviderRejected) as excinfo:
        client.call("version")
    assert excinfo.value.status == 404
    assert (client.attempts, sleeps) == (1, [])


def test_5xx_retries_with_backoff_then_unavailable(client, admin, sleeps):
    admin.call("sandbox_fault", mode="error500")

    with pytest.raises(ProviderUnavailable) as excinfo:
        client.accounts_frontiers([SHOP])

    assert excinfo.value.status == 500
    assert (client.calls, client.attempts) == (1, 3)
    assert sleeps == [0.25, 0.5]  # exponential


def test_transient_5xx_recovers_within_the_retries(client, admin, sleeps):
    admin.call("send", destination=SHOP, amount="5", auto_receive=True)
    admin.call("sandbox_fault", mode="error500", count=2)

    assert SHOP in client.accounts_frontiers([SHOP])
    assert (client.calls, client.attempts, len(sleeps)) == (1, 3, 2)


def test_garbage_answer_is_unavailable(client, admin):
    admin.call("sandbox_fault", mode="garbage")
    with pytest.raises(ProviderUnavailable, match="invalid JSON"):
        client.call("version")


def test_timeout_is_unavailable(node, admin, sleeps):
    admin.call("sandbox_fault", mode="timeout", delay=1.5)
    client = NanoRpcClient(f"{node}/nano", timeout=0.2, retries=1, sleep=sleeps.append)

    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match="timed out"):
        client.call("version")

    assert time.monotonic() - started < 1.4
    assert client.attempts == 2
    admin.call("sandbox_fault", mode="none")
    assert client.call("version")["node_vendor"]


def test_closed_port_is_unavailable(sleeps):
    with socket.socket() as sock:  # a port that nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = NanoRpcClient(f"http://127.0.0.1:{port}/nano", timeout=1, retries=2, sleep=sleeps.append)

    with pytest.raises(ProviderUnavailable) as excinfo:
        client.account_info(SHOP)

    assert "ConnectionError" in str(excinfo.value)
    assert client.attempts == 3 and len(sleeps) == 2


def test_money_moving_actions_are_never_retried(client, admin):
    admin.call("sandbox_fault", mode="error500", count=1)
    with pytest.raises(ProviderUnavailable):
        client.call("send", destination=SHOP, amount="1")
    assert client.attempts == 1
    assert client.accounts_receivable([SHOP], count=5) == {}


def test_counters(client):
    client.call("version")
    client.accounts_frontiers([SHOP])
    client.accounts_frontiers([SHOP])
    assert client.calls == 3
    assert client.calls_by_action == {"version": 1, "accounts_frontiers": 2}
    client.reset_counters()
    assert (client.calls, client.attempts) == (0, 0)


def test_xrb_addresses_are_normalized(client, admin):
    admin.call("send", destination=SHOP.replace("nano_", "xrb_"), amount="5")
    receivable = client.accounts_receivable([SHOP.replace("nano_", "xrb_")], count=5)
    assert list(receivable) == [SHOP]


def test_parse_receivable_handles_every_node_shape():
    acct, h = SHOP, "AB" * 32
    assert parse_receivable("") == {}
    assert parse_receivable({acct: [h]})[acct][0].amount == 0
    assert parse_receivable({acct: {h: "5"}})[acct][0].amount == 5
    with_source = parse_receivable({acct.replace("nano_", "xrb_"): {h: {"amount": "6", "source": FAUCET}}})
    assert with_source[acct][0].source == FAUCET


def test_an_answer_trickled_slower_than_the_timeout_is_unavailable_not_waited_for(sleeps):
    # Each byte arrives well within the per-read timeout, the whole answer does not: a node or proxy
    # doing this held the monitor tick (and the ticks queue behind it) for as long as it liked.
    body = b'{"node_vendor": "Nano V25.1"}' + b" " * 30
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def trickle():
        connection, _ = server.accept()
        with connection, contextlib.suppress(OSError):
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
            for byte in body:
                connection.sendall(bytes([byte]))
                time.sleep(0.05)

    threading.Thread(target=trickle, daemon=True).start()
    client = NanoRpcClient(f"http://127.0.0.1:{server.getsockname()[1]}/", timeout=0.5, retries=0,
                           sleep=sleeps.append)
    try:
        with pytest.raises(ProviderUnavailable, match="timed out"):
            client.call("version")
    finally:
        server.close()

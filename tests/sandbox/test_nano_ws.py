"""The sandbox Nano node's websocket over a real socket: the node's subscribe / update /
unsubscribe / ping actions, its account filter, and its confirmation message shape
(docs.nano.org/integration-guides/websockets)."""
import json
import time
from unittest.mock import ANY

import pytest
import requests
from websockets.sync.client import connect

from sandbox.nano_node import FAUCET
from sandbox.nano_ws import ConfirmationFeed
from sandbox.server import nano_ws_port, start_in_thread
from tests.factories import nano_address

SHOP, OTHER_SHOP, SHOPPER = nano_address("ws-shop"), nano_address("ws-other"), nano_address("ws-shopper")


@pytest.fixture
def node():
    server, _thread, url = start_in_thread(options={"nano_ws": ("127.0.0.1", 0)})
    yield url, server.app.ctx.services["nano_ws"]
    server.stop()


def rpc(url: str, **body) -> dict:
    return requests.post(f"{url}/nano", json=body, timeout=5).json()


def send(url: str, destination: str, amount: int, **extra) -> str:
    return rpc(url, action="send", destination=destination, amount=str(amount), **extra)["block"]


def act(ws, **message) -> dict:
    ws.send(json.dumps({"ack": True, **message}))
    return json.loads(ws.recv(timeout=5))


def subscribe(ws, **options) -> dict:
    return act(ws, action="subscribe", topic="confirmation", id="sub-1", options=options)


def next_message(ws) -> dict:
    return json.loads(ws.recv(timeout=5))


def test_subscribe_is_acknowledged_with_its_id(node):
    _url, feed = node
    with connect(feed.url, proxy=None) as ws:
        ack = subscribe(ws, accounts=[SHOP])
        assert ack["ack"] == "subscribe" and ack["id"] == "sub-1" and ack["time"].isdigit()
        assert feed.subscriptions() == [{SHOP}]


def test_a_confirmed_send_to_a_watched_account_arrives_in_the_nodes_shape(node):
    url, feed = node
    with connect(feed.url, proxy=None) as ws:
        subscribe(ws, accounts=[SHOP])
        block_hash = send(url, SHOP, 1234)
        message = next_message(ws)
    assert message["topic"] == "confirmation" and message["time"].isdigit()
    body = message["message"]
    assert body["hash"] == block_hash and body["amount"] == "1234" and body["account"] == FAUCET
    assert body["confirmation_type"] == "active_quorum"
    block = body["block"]
    assert block["type"] == "state" and block["subtype"] == "send" and block["link_as_account"] == SHOP
    assert set(block) >= {"account", "previous", "representative", "balance", "link", "signature", "work"}


def test_only_blocks_touching_the_filter_are_sent(node):
    url, feed = node
    with connect(feed.url, proxy=None) as ws:
        subscribe(ws, accounts=[SHOP])
        send(url, OTHER_SHOP, 5)  # not watched: filtered out
        wanted = send(url, SHOP, 7)
        assert next_message(ws)["message"]["hash"] == wanted


def test_an_empty_account_list_lets_nothing_through_and_no_options_lets_everything(node):
    url, feed = node
    with connect(feed.url, proxy=None) as nothing, connect(feed.url, proxy=None) as everything:
        subscribe(nothing, accounts=[])
        subscribe(everything)
        block_hash = send(url, SHOP, 9)
        assert next_message(everything)["message"]["hash"] == block_hash
        with pytest.raises(TimeoutError):
            nothing.recv(timeout=0.3)


def test_update_adds_and_removes_accounts(node):
    url, feed = node
    with connect(feed.url, proxy=None) as ws:
        subscribe(ws, accounts=[SHOP])
        ack = act(ws, action="update", topic="confirmation", id="u",
                  options={"accounts_add": [OTHER_SHOP], "accounts_del": [SHOP]})
        assert ack["ack"] == "update" and ack["id"] == "u"
        send(url, SHOP, 3)
        wanted = send(url, OTHER_SHOP, 4)
        assert next_message(ws)["message"]["hash"] == wanted


def test_an_unconfirmed_send_is_announced_when_it_confirms(node):
    url, feed = node
    with connect(feed.url, proxy=None) as ws:
        subscribe(ws, accounts=[SHOP])
        block_hash = send(url, SHOP, 11, confirmed=False)
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.3)
        rpc(url, action="confirm", hash=block_hash)
        assert next_message(ws)["message"]["hash"] == block_hash


def test_the_sellers_receive_block_is_announced_too(node):
    url, feed = node
    with connect(feed.url, proxy=None) as ws:
        subscribe(ws, accounts=[SHOP])
        sent = rpc(url, action="send", destination=SHOP, amount="13", auto_receive=True)
        hashes = [next_message(ws)["message"]["hash"] for _ in range(2)]
    assert hashes == [sent["block"], sent["receive_block"]]


def test_ping_is_answered_and_garbage_is_ignored_without_closing(node):
    _url, feed = node
    with connect(feed.url, proxy=None) as ws:
        ws.send("{not json")
        ws.send(json.dumps(["a", "list"]))
        ws.send(json.dumps({"action": "subscribe", "topic": "votes"}))  # a topic the sandbox lacks
        ws.send(json.dumps({"action": "ping"}))
        assert next_message(ws)["ack"] == "pong"


def test_unsubscribe_stops_the_messages(node):
    url, feed = node
    with connect(feed.url, proxy=None) as ws:
        subscribe(ws, accounts=[SHOP])
        assert act(ws, action="unsubscribe", topic="confirmation")["ack"] == "unsubscribe"
        send(url, SHOP, 5)
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.3)
    assert feed.subscriptions() == []


def test_invalid_accounts_in_a_filter_are_skipped(node):
    url, feed = node
    with connect(feed.url, proxy=None) as ws:
        subscribe(ws, accounts=["nano_not_an_address", 42, SHOP.replace("nano_", "xrb_")])
        block_hash = send(url, SHOP, 6)
        assert next_message(ws)["message"]["hash"] == block_hash  # the old xrb_ prefix still matches


def test_a_client_that_goes_away_is_dropped(node):
    url, feed = node
    with connect(feed.url, proxy=None) as ws:
        subscribe(ws, accounts=[SHOP])
    send(url, SHOP, 1)  # the feed must not trip over the closed connection
    with connect(feed.url, proxy=None) as ws:
        subscribe(ws, accounts=[SHOP])
        block_hash = send(url, SHOP, 2)
        assert next_message(ws)["message"]["hash"] == block_hash


def test_the_websocket_port_follows_the_rpc_port_unless_given_or_turned_off():
    assert nano_ws_port(7076, None, False) == 7078  # as a real node: RPC 7076, websocket 7078
    assert nano_ws_port(7076, 9000, False) == 9000
    assert nano_ws_port(7076, None, True) is None


def test_without_the_option_no_websocket_is_served():
    server, _thread, _url = start_in_thread()
    try:
        assert "nano_ws" not in server.app.ctx.services
    finally:
        server.stop()


def test_a_stopped_feed_refuses_connections():
    feed = ConfirmationFeed()
    url = feed.start("127.0.0.1", 0)
    feed.stop()
    with pytest.raises(OSError):
        connect(url, proxy=None, open_timeout=2)


# --- the node's own habits (issue 21 item 3) --------------------------------------------------


def test_update_without_a_subscription_gets_no_ack(node):
    _url, feed = node
    with connect(feed.url, proxy=None) as ws:
        ws.send(json.dumps({"action": "update", "topic": "confirmation", "ack": True, "id": "u",
                            "options": {"accounts_add": [SHOP]}}))
        ws.send(json.dumps({"action": "ping", "id": "p"}))
        assert next_message(ws) == {"ack": "pong", "time": ANY, "id": "p"}  # nothing came before it
    assert feed.subscriptions() == []


def test_confirmations_carry_the_nodes_confirmation_types(node):
    url, feed = node
    with connect(feed.url, proxy=None) as ws:
        subscribe(ws, accounts=[SHOP])
        elected = send(url, SHOP, 1)  # confirmed by its own election
        old = rpc(url, action="send", destination=SHOP, amount="2", auto_receive=True, confirmed=False)
        rpc(url, action="sandbox_backdate", hash=old["block"], local_timestamp=str(int(time.time()) - 3600))
        rpc(url, action="confirm", hash=old["receive_block"])
        recent = rpc(url, action="send", destination=SHOP, amount="3", auto_receive=True, confirmed=False)
        rpc(url, action="confirm", hash=recent["receive_block"])
        types = {}
        for _ in range(5):
            body = next_message(ws)["message"]
            types[body["hash"]] = body["confirmation_type"]
    assert types == {
        elected: "active_quorum",
        old["block"]: "inactive",                              # cemented with its receive, no election of its own
        old["receive_block"]: "active_quorum",
        recent["block"]: "active_confirmation_height",         # its election was running when the receive cemented it
        recent["receive_block"]: "active_quorum",
    }


def test_the_node_sometimes_reports_a_confirmation_twice(node):
    url, feed = node
    rpc(url, action="sandbox_ws", duplicate_every=2)
    with connect(feed.url, proxy=None) as ws:
        subscribe(ws, accounts=[SHOP])
        sent = [send(url, SHOP, amount) for amount in (1, 2, 3, 4)]
        hashes = [next_message(ws)["message"]["hash"] for _ in range(6)]
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.3)
    assert sorted(hashes) == sorted(sent + sent[1::2])

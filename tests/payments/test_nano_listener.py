"""The Nano websocket listener against the sandbox node's real websocket, with the
watched-address read and the check replaced by recorders (the database path is in
tests/integration/test_nano_websocket.py)."""
import contextlib
import json
import queue
import threading
import time

import pytest
import requests

from payments.nano_listener import ConfirmationListener, parse, touched_addresses
from payments.providers.errors import ProviderUnavailable
from sandbox.nano_ws import ConfirmationFeed
from sandbox.server import start_in_thread
from tests.factories import nano_address
from tests.integration.conftest import free_port, listeners_running

SHOP, LATER_SHOP, STRANGER = nano_address("l-shop"), nano_address("l-later"), nano_address("l-stranger")


def confirmation(account: str, destination: str) -> dict:
    return {"topic": "confirmation", "time": "1", "message": {
        "account": account, "amount": "1", "hash": "AB" * 32, "confirmation_type": "active_quorum",
        "block": {"type": "state", "subtype": "send", "account": account, "link_as_account": destination}}}


@pytest.mark.parametrize(("data", "expected"), [
    (confirmation(STRANGER, SHOP), {SHOP}),                         # a shopper paying the shop
    (confirmation(SHOP, STRANGER), {SHOP}),                         # the shop's own block
    (confirmation(STRANGER, SHOP.replace("nano_", "xrb_")), {SHOP}),  # the old prefix
    (confirmation(STRANGER, LATER_SHOP), set()),                    # not watched
    ({**confirmation(STRANGER, SHOP), "topic": "votes"}, set()),
    ({"topic": "confirmation", "message": "nonsense"}, set()),
    ({"topic": "confirmation", "message": {"account": 7, "block": None}}, set()),
    ({"ack": "subscribe", "id": "kassa-payments"}, set()),
])
def test_touched_addresses(data, expected):
    assert touched_addresses(data, {SHOP}) == expected


@pytest.mark.parametrize("raw", ["{broken", "[1, 2]", '"text"', b"\xff\xfe"])
def test_anything_but_a_json_object_parses_to_nothing(raw):
    assert parse(raw) == {}


def test_a_message_nested_too_deeply_parses_to_nothing_and_the_listener_goes_on():
    # 100,000 brackets fit in one frame (MAX_MESSAGE_BYTES); Python's json recurses once per level.
    deep = "[" * 100_000
    assert parse(deep) == {}
    node = ScriptedFeed([deep, json.dumps(confirmation(STRANGER, SHOP))])
    recorder = Recorder({SHOP})
    try:
        with listeners_running() as run:
            run(listener_for(node.url, recorder, refresh_seconds=60))
            assert recorder.next_check() == {SHOP}
    finally:
        node.server.shutdown()


class Recorder:
    def __init__(self, watched: set[str]):
        self.watched = set(watched)
        self.checks: queue.Queue[set[str]] = queue.Queue()
        self.fail_next = None

    def read_watched(self) -> set[str]:
        return set(self.watched)

    def check(self, addresses: set[str]) -> dict:
        self.checks.put(set(addresses))
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        return {"applied": len(addresses)}

    def next_check(self, timeout: float = 5.0) -> set[str]:
        return self.checks.get(timeout=timeout)


class ScriptedFeed:
    """A node websocket that acknowledges the subscription, then sends `messages` as they are."""

    def __init__(self, messages: list[str]):
        from websockets.sync.server import serve

        self.messages = messages
        self.server = serve(self._serve, "127.0.0.1", 0, compression=None)
        self.url = f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _serve(self, connection):
        with contextlib.suppress(Exception):
            request = json.loads(connection.recv())
            connection.send(json.dumps({"ack": request["action"], "time": "1", "id": request["id"]}))
            for message in self.messages:
                connection.send(message)
            for _raw in connection:
                pass


@pytest.fixture
def node():
    server, _thread, url = start_in_thread(options={"nano_ws": ("127.0.0.1", 0)})
    yield url, server.app.ctx.services["nano_ws"]
    server.stop()


def listener_for(url: str, recorder: Recorder, **options) -> ConfirmationListener:
    return ConfirmationListener(url, watched=recorder.read_watched, check=recorder.check,
                                **{"refresh_seconds": 0.2, "batch_seconds": 0.05, **options})


@pytest.fixture
def following(node):
    """Start a listener against the node; stop it after the test."""
    with listeners_running() as run:
        yield lambda recorder, **options: run(listener_for(node[1].url, recorder, **options))


def pay(url: str, destination: str, amount: int = 1) -> str:
    return requests.post(f"{url}/nano", json={"action": "send", "destination": destination, "amount": str(amount)},
                         timeout=5).json()["block"]


def test_a_confirmed_payment_to_a_watched_address_is_checked_at_once(node, following):
    url, _feed = node
    recorder = Recorder({SHOP})
    following(recorder, refresh_seconds=60)
    started = time.monotonic()
    pay(url, SHOP)
    assert recorder.next_check() == {SHOP}
    assert time.monotonic() - started < 2


def test_confirmations_close_together_are_checked_together(node, following):
    url, _feed = node
    recorder = Recorder({SHOP, LATER_SHOP})
    following(recorder, refresh_seconds=60, batch_seconds=0.5)
    pay(url, SHOP)
    pay(url, LATER_SHOP)
    assert recorder.next_check() == {SHOP, LATER_SHOP}


def test_other_accounts_are_not_checked(node, following):
    url, _feed = node
    recorder = Recorder({SHOP})
    following(recorder, refresh_seconds=60)
    pay(url, STRANGER)
    pay(url, SHOP)
    assert recorder.next_check() == {SHOP}
    assert recorder.checks.empty()


def test_the_subscription_follows_the_watched_addresses(node, following):
    url, feed = node
    recorder = Recorder({SHOP})
    following(recorder)
    recorder.watched = {LATER_SHOP}  # a new payment elsewhere; SHOP's was settled
    deadline = time.monotonic() + 5
    while feed.subscriptions() != [{LATER_SHOP}] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert feed.subscriptions() == [{LATER_SHOP}]  # sent as an update (accounts_add / accounts_del)
    pay(url, SHOP)
    pay(url, LATER_SHOP)
    assert recorder.next_check() == {LATER_SHOP}


@pytest.mark.parametrize("error", [ProviderUnavailable("node down"), RuntimeError("bug")])
def test_a_failed_check_does_not_stop_the_listener(node, following, error):
    url, _feed = node
    recorder = Recorder({SHOP})
    recorder.fail_next = error
    following(recorder, refresh_seconds=60)
    pay(url, SHOP)
    assert recorder.next_check() == {SHOP}
    pay(url, SHOP)
    assert recorder.next_check() == {SHOP}


def test_it_keeps_retrying_until_the_node_is_up_then_subscribes():
    port = free_port()
    with listeners_running() as run:
        listener = run(listener_for(f"ws://127.0.0.1:{port}", Recorder({SHOP})), wait=False)
        time.sleep(0.5)  # at least one refused attempt
        assert not listener.subscribed.is_set()
        feed = ConfirmationFeed()
        feed.start("127.0.0.1", port)
        try:
            assert listener.subscribed.wait(10)
            assert len(feed.subscriptions()) == 1
        finally:
            feed.stop()
        # The node went away again: the listener notices and waits to reconnect.
        deadline = time.monotonic() + 5
        while listener.subscribed.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not listener.subscribed.is_set()


def test_the_subscription_names_the_watched_addresses(node, following):
    _url, feed = node
    following(Recorder({SHOP, LATER_SHOP}), refresh_seconds=60)
    assert feed.subscriptions() == [{SHOP, LATER_SHOP}]


# --- the node's habits: acks that never come, confirmation types, duplicates (issue 21 item 3) ----------


class SilentOnUpdate:
    """A node websocket that acknowledges `subscribe` but not the first `update` (the node sends no ack
    for an update that failed, e.g. one without a subscription); later updates are acknowledged."""

    def __init__(self):
        from websockets.sync.server import serve

        self.received: list[dict] = []
        self.server = serve(self._serve, "127.0.0.1", 0, compression=None)
        self.url = f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _serve(self, connection):
        import json

        with contextlib.suppress(Exception):
            for raw in connection:
                request = json.loads(raw)
                self.received.append(request)
                updates = [r for r in self.received if r["action"] == "update"]
                if request["action"] == "update" and len(updates) == 1:
                    continue
                connection.send(json.dumps({"ack": request["action"], "time": "1", "id": request["id"]}))


def test_an_update_the_node_never_acknowledges_does_not_shift_the_later_acks():
    node = SilentOnUpdate()
    recorder = Recorder({SHOP})
    try:
        with listeners_running() as run:
            listener = run(listener_for(node.url, recorder, refresh_seconds=0.1, ack_timeout=1.0))
            recorder.watched = {SHOP, LATER_SHOP}   # first update: never acknowledged
            time.sleep(0.4)
            recorder.watched = {LATER_SHOP}         # second update: acknowledged
            deadline = time.monotonic() + 5
            while listener.watching != {LATER_SHOP} and time.monotonic() < deadline:
                time.sleep(0.05)
            assert listener.watching == {LATER_SHOP}
            # The silent update is replaced by a full subscribe once its ack is overdue.
            while [r["action"] for r in node.received].count("subscribe") < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert node.received[-1]["action"] == "subscribe"
            assert node.received[-1]["options"] == {"accounts": [LATER_SHOP]}
    finally:
        node.server.shutdown()


def test_every_confirmation_type_and_duplicates_each_lead_to_a_check(node, following):
    url, _feed = node
    requests.post(f"{url}/nano", json={"action": "sandbox_ws", "duplicate_every": "1"}, timeout=5)
    recorder = Recorder({SHOP})
    following(recorder, refresh_seconds=60, batch_seconds=0.01)
    old = requests.post(f"{url}/nano", json={"action": "send", "destination": SHOP, "amount": "1",
                                             "auto_receive": True, "confirmed": False}, timeout=5).json()
    requests.post(f"{url}/nano", json={"action": "confirm", "hash": old["receive_block"]}, timeout=5)
    assert recorder.next_check() == {SHOP}  # the checks are idempotent: duplicates only cost a read

"""NanoProvider against a broken or hostile node: every field of every answer the monitor, the
shopper's "I've paid" and a refund read is replaced in turn by a value of the wrong shape (a number
for a string, a negative, non-digits, 41 digits, a float, a list, null). Each read either works or
raises ProviderError (the tick logs and changes nothing; a shopper gets a 503), never anything else:
a KeyError or ValueError would end the whole monitor tick (Razorpay's and CoinPay's checks with it)
or answer a shopper with a 500."""
import contextlib
import copy
import json

import pytest
import responses

from core.nano_codec import RAW_PER_MICRO
from payments.providers.errors import ProviderError
from payments.providers.nano import NanoProvider, RefundAnchor, WatchedAccount
from payments.providers.nano_rpc import NanoRpcClient
from tests.factories import nano_address
from tests.payments.nano_fake_node import FakeNode, block_hash

RPC = "http://node.test/rpc"
SHOP, SHOPPER = nano_address("hostile-shop"), nano_address("hostile-shopper")
SINCE = 1_700_000_000
BAD_VALUES = [-5, "-5", 7, 1.5, "1.5", "12abc", "9" * 41, 2**130, "", None, [], {}, ["x"], {"x": 1}, True]


class TamperedNode(FakeNode):
    """FakeNode whose answer to `action` has the leaf at `path` replaced by `value`."""

    action, path, value = "", (), None

    def __call__(self, request):
        body = json.loads(request.body)
        answer = getattr(self, body["action"])(body)
        if body["action"] == self.action:
            answer = copy.deepcopy(answer)
            *parents, last = self.path
            target = answer
            with contextlib.suppress(LookupError, TypeError):  # a path this answer does not have
                for key in parents:
                    target = target[key]
                target[last] = self.value
        return 200, {}, json.dumps(answer)

    def block_info(self, body):
        send = {"block_account": SHOPPER, "amount": str(5 * RAW_PER_MICRO), "balance": "1", "height": "9",
                "local_timestamp": str(SINCE + 5), "successor": "0" * 64, "confirmed": "true", "subtype": "send",
                "contents": {"type": "state", "account": SHOPPER, "previous": "1" * 64, "link": "2" * 64,
                             "link_as_account": SHOP}}
        return send

    def account_info(self, body):
        return {"frontier": self.chain[-1]["hash"], "open_block": self.chain[0]["hash"], "balance": "10",
                "modified_timestamp": str(SINCE), "block_count": str(len(self.chain)), "confirmation_height": "1"}


def leaves(answer, path=()):
    """Every (path) to a value in a JSON answer, containers included."""
    items = answer.items() if isinstance(answer, dict) else enumerate(answer) if isinstance(answer, list) else ()
    for key, value in items:
        yield (*path, key)
        yield from leaves(value, (*path, key))


def a_node() -> TamperedNode:
    node = TamperedNode(SHOP)
    node.receive("old", 3 * RAW_PER_MICRO, sender=SHOPPER, timestamp=SINCE - 60)
    node.receive("new", 5 * RAW_PER_MICRO, sender=SHOPPER, timestamp=SINCE + 5)
    node.pending("waiting", 7 * RAW_PER_MICRO, sender=SHOPPER, timestamp=SINCE + 5)
    node.chain.append({**node.chain[-1], "subtype": "send", "account": SHOPPER, "link": "3" * 64,
                       "hash": block_hash("refund"), "height": "3", "local_timestamp": str(SINCE + 9)})
    return node


READS = {
    "scan, first read": lambda provider: provider.scan([WatchedAccount(SHOP, "", SINCE)]),
    "scan, with a cursor": lambda provider: provider.scan([WatchedAccount(SHOP, block_hash("old"), SINCE,
                                                                          frozenset())]),
    "I've paid with a hash": lambda provider: provider.verify(
        type("P", (), {"pay_to": SHOP, "amount_due": 5, "created_at": None, "pk": 1})(), "A" * 64),
    "refund sends": lambda provider: provider.refund_sends([RefundAnchor(SHOP, SHOPPER, 1)]),
    "refund anchor": lambda provider: provider.refund_anchor(
        type("P", (), {"pay_to": SHOP, "tx_id": "A" * 64})(), shopper_account=""),
}
ACTIONS = ["accounts_receivable", "accounts_frontiers", "account_history", "blocks_info", "block_info",
           "account_info", "version"]


@pytest.mark.parametrize("read", sorted(READS))
def test_every_malformed_field_is_a_provider_error_never_a_crash(read, settings):
    settings.NANO_RPC_URL = RPC
    crashes = []
    for action in ACTIONS:
        node = a_node()
        answer = getattr(node, action)({"accounts": [SHOP], "hashes": [block_hash("send:waiting")], "count": "100",
                                        "threshold": "1"})
        for path in leaves(answer):
            for value in BAD_VALUES:
                node = a_node()
                node.action, node.path, node.value = action, path, value
                provider = NanoProvider(client=NanoRpcClient(RPC, retries=0))
                with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
                    mocked.add_callback(responses.POST, RPC, callback=node)
                    try:
                        READS[read](provider)
                    except ProviderError:
                        pass
                    except Exception as exc:  # noqa: BLE001 - what the test looks for
                        crashes.append(f"{action} {'.'.join(map(str, path))}={value!r}: {type(exc).__name__}")
    assert crashes == []

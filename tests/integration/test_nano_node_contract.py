"""The sandbox node against a real Nano node: Kassa's request set sent to both, comparing key sets,
value types and error texts. Optional: it needs a node, so it runs only with NANO_NODE_TEST_URL.

    NANO_NODE_TEST_URL=http://[::1]:7076 [NANO_NODE_TEST_ACCOUNT=nano_...] \\
        .venv/bin/python -m pytest -m nano_node tests/integration/test_nano_node_contract.py

The account must be opened on that node's network (default: the genesis account of the live or dev
network, read from `version`). A dev-network node (`nano_node --daemon --network=dev`, RPC enabled) is
the easiest to run locally.
"""
import os

import pytest
import requests

from sandbox.nano_node import FAUCET
from sandbox.server import start_in_thread
from tests.factories import nano_address

pytestmark = [pytest.mark.nano_node, pytest.mark.integration]

NODE_URL = os.environ.get("NANO_NODE_TEST_URL", "")
GENESIS = {  # the genesis account of each network (nano/secure/common.cpp)
    "live": "nano_3t6k35gi95xu6tergt6p69ck76ogmitsa8mnijtpxm9fkcm736xtoncuohr3",
    "dev": "nano_1jg8zygjg3pp5w644emqcbmjqpnzmubfni3kfe1s8pooeuxsw49fdq1mco9j",
}
UNOPENED = nano_address("kassa-contract-never-opened")
MICRO = "1000000000000000000000000"
# Keys a node prints only in some states (a deprecation note, the next page); never compared.
OPTIONAL_KEYS = {"deprecated", "deprecated_account_format", "previous", "next"}

if not NODE_URL:
    pytest.skip("set NANO_NODE_TEST_URL to a Nano node's RPC (e.g. http://[::1]:7076) to run the node contract test",
                allow_module_level=True)


def post(url: str, body: dict) -> dict:
    response = requests.post(url, json=body, timeout=10)
    response.raise_for_status()
    return response.json()


@pytest.fixture(scope="module")
def node():
    version = post(NODE_URL, {"action": "version"})
    account = os.environ.get("NANO_NODE_TEST_ACCOUNT") or GENESIS.get(version.get("network", ""), "")
    if not account:
        pytest.skip(f"the node's network is {version.get('network')!r}: "
                    "set NANO_NODE_TEST_ACCOUNT to an account opened on it")
    return NODE_URL, account, version


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    server, _thread, url = start_in_thread(state_dir=tmp_path_factory.mktemp("contract"))
    yield f"{url}/nano"
    server.stop()


def kassa_requests(account: str, frontier: str, receivable_action: str) -> list[tuple[str, dict]]:
    """What Kassa asks a node (payments/providers/nano_rpc.py), plus the errors it must read."""
    return [
        ("version", {"action": "version"}),
        ("account_info", {"action": "account_info", "account": account}),
        ("account_info confirmed", {"action": "account_info", "account": account, "include_confirmed": "true"}),
        ("account_info unopened", {"action": "account_info", "account": UNOPENED}),
        ("account_info bad account", {"action": "account_info", "account": "nano_bad"}),
        ("account_history", {"action": "account_history", "account": account, "count": "1", "raw": "true"}),
        ("account_history unopened", {"action": "account_history", "account": UNOPENED, "count": "1"}),
        ("account_history count 0", {"action": "account_history", "account": account, "count": "0"}),
        ("accounts_frontiers", {"action": "accounts_frontiers", "accounts": [account, UNOPENED]}),
        ("accounts_frontiers none", {"action": "accounts_frontiers", "accounts": [UNOPENED]}),
        ("receivable none", {"action": receivable_action, "accounts": [UNOPENED], "count": "500",
                             "source": "true", "include_only_confirmed": "true", "threshold": MICRO}),
        ("receivable bad account", {"action": receivable_action, "accounts": ["nano_bad"], "count": "1"}),
        ("block_info", {"action": "block_info", "hash": frontier, "json_block": "true"}),
        ("block_info unknown", {"action": "block_info", "hash": "0" * 63 + "1", "json_block": "true"}),
        ("block_info bad hash", {"action": "block_info", "hash": "xyz"}),
        ("blocks_info", {"action": "blocks_info", "hashes": [frontier, "0" * 63 + "1"], "json_block": "true",
                         "include_not_found": "true"}),
    ]


def shape(value):
    """A JSON value's shape: strings alike, an empty map or list printed as "" alike."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items() if key not in OPTIONAL_KEYS}
    if isinstance(value, list):
        return [shape(value[0])] if value else ""
    return type(value).__name__


def compare(name: str, real: dict, ours: dict) -> list[str]:
    if "error" in real or "error" in ours:
        return [] if real.get("error") == ours.get("error") else [f"{name}: error {real.get('error')!r} vs "
                                                                  f"{ours.get('error')!r}"]
    problems = []
    real_keys, our_keys = set(real) - OPTIONAL_KEYS, set(ours) - OPTIONAL_KEYS
    if real_keys != our_keys:
        problems.append(f"{name}: keys only on the node {sorted(real_keys - our_keys)}, "
                        f"only in the sandbox {sorted(our_keys - real_keys)}")
    for key in real_keys & our_keys:
        if key in ("history", "blocks", "frontiers", "errors", "contents", "blocks_not_found"):
            continue  # per-account and per-block maps: their keys are accounts and hashes
        if shape(real[key]) != shape(ours[key]):
            problems.append(f"{name}: {key} is {shape(real[key])} on the node, {shape(ours[key])} in the sandbox")
    return problems


def test_the_sandbox_answers_kassas_requests_as_the_node_does(node, sandbox):
    node_url, account, version = node
    major = version.get("node_vendor", "").removeprefix("Nano ").lstrip("V").split(".")[0]
    action = "accounts_pending" if major.isdigit() and int(major) < 24 else "accounts_receivable"
    real_frontier = post(node_url, {"action": "account_info", "account": account})["frontier"]
    problems = []
    for (name, real_request), (_same, sandbox_request) in zip(
            kassa_requests(account, real_frontier, action), kassa_requests(FAUCET, _frontier(sandbox), action),
            strict=True):
        problems += compare(name, post(node_url, real_request), post(sandbox, sandbox_request))
    assert not problems, "\n".join(problems)


def _frontier(url: str) -> str:
    return post(url, {"action": "account_info", "account": FAUCET})["frontier"]

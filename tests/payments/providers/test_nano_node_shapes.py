"""The RPC client and the Nano provider against the real node's documented answers.

Each fixture in fixtures/nano_node/ is one request/response pair with its source in `_source`.
"""
import json
from pathlib import Path

import pytest

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

"""The sandbox's fault knob (/_sandbox/faults) and its books (/_sandbox/books)."""
import time

import pytest
import requests

from sandbox.faults import SandboxFaults
from sandbox.server import Response, Route, start_in_thread

EXTRA = [Route("*", "/gw", lambda request: Response.json({"ok": True, "path": request.path}))]


@pytest.fixture
def echo_sandbox(tmp_path):
    server, _thread, base_url = start_in_thread(state_dir=tmp_path, modules=[], extra_routes=EXTRA)
    yield base_url
    server.stop()


def test_5xx_for_the_next_n_calls_on_matching_paths_only(echo_sandbox):
    faults = SandboxFaults(echo_sandbox)
    faults.add("refunds", "5xx", count=2)
    assert requests.get(f"{echo_sandbox}/gw/payments", timeout=5).status_code == 200   # not matched
    assert [requests.post(f"{echo_sandbox}/gw/x/refunds", timeout=5).status_code for _ in range(3)] == [503, 503, 200]
    assert faults.list() == []   # used up


def test_429_only_for_the_given_method(echo_sandbox):
    faults = SandboxFaults(echo_sandbox)
    faults.add("^/gw/", "429", count=1, method="POST")
    assert requests.get(f"{echo_sandbox}/gw/a", timeout=5).status_code == 200
    answer = requests.post(f"{echo_sandbox}/gw/a", timeout=5)
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "1"
    assert requests.post(f"{echo_sandbox}/gw/a", timeout=5).status_code == 200


def test_a_time_window_then_clear(echo_sandbox):
    faults = SandboxFaults(echo_sandbox)
    faults.add("gw", "5xx", seconds=0.6)
    assert {requests.get(f"{echo_sandbox}/gw/b", timeout=5).status_code for _ in range(5)} == {503}
    time.sleep(0.7)
    assert requests.get(f"{echo_sandbox}/gw/b", timeout=5).status_code == 200
    faults.add("gw", "5xx")   # no count, no window: until cleared
    assert requests.get(f"{echo_sandbox}/gw/b", timeout=5).status_code == 503
    assert requests.delete(f"{echo_sandbox}/_sandbox/faults", timeout=5).json() == {"rules": []}
    assert requests.get(f"{echo_sandbox}/gw/b", timeout=5).status_code == 200


def test_hang_outlasts_the_client_timeout_then_serves(echo_sandbox):
    faults = SandboxFaults(echo_sandbox)
    with faults.active("gw/slow", "hang", count=1, hang_seconds=1.0):
        with pytest.raises(requests.Timeout):
            requests.get(f"{echo_sandbox}/gw/slow", timeout=0.3)
        assert requests.get(f"{echo_sandbox}/gw/slow", timeout=5).status_code == 200   # the next call answers


def test_controls_and_health_are_never_faulted_and_bad_rules_are_refused(echo_sandbox):
    faults = SandboxFaults(echo_sandbox)
    faults.add(".", "5xx")
    assert requests.get(f"{echo_sandbox}/health", timeout=5).status_code == 200
    assert len(faults.list()) == 1
    assert requests.post(f"{echo_sandbox}/_sandbox/faults", json={"match": "x", "mode": "explode"},
                         timeout=5).status_code == 400
    assert requests.post(f"{echo_sandbox}/_sandbox/faults", json={"match": "(", "mode": "5xx"},
                         timeout=5).status_code == 400


# --- books -----------------------------------------------------------------------------------

def _gateways(tmp_path):
    server, _thread, base_url = start_in_thread(state_dir=tmp_path, modules=[
        "sandbox.razorpay_api", "sandbox.coinpay_api"])
    rzp = server.app.ctx.services["razorpay"]
    rzp.data["config"]["webhook_url"] = ""
    server.app.ctx.services["coinpay"].data["config"]["webhook_url"] = ""
    return server, base_url, (rzp.key_id, rzp.key_secret)


def test_books_record_every_money_movement_and_survive_a_restart(tmp_path):
    server, base, auth = _gateways(tmp_path)
    rzp = f"{base}/razorpay/v1"
    order = requests.post(f"{rzp}/orders", json={"amount": 50000, "currency": "INR"}, auth=auth, timeout=5).json()
    pay_id = requests.post(f"{base}/razorpay/_sandbox/pay", json={"order_id": order["id"]},
                           timeout=5).json()["payment"]["id"]
    for _ in range(2):   # the same key twice: one refund, one transfer, one reversal
        requests.post(f"{rzp}/payments/{pay_id}/refund", json={"amount": 1000}, auth=auth, timeout=5,
                      headers={"X-Refund-Idempotency": "rf-1"})
        transfer = requests.post(f"{rzp}/payments/{pay_id}/transfers", auth=auth, timeout=5,
                                 headers={"X-Transfer-Idempotency": "tr-1"},
                                 json={"transfers": [{"account": "acc_AAAAAAAAAAAAAA", "amount": 40000}]}
                                 ).json()["items"][0]
        requests.post(f"{rzp}/transfers/{transfer['id']}/reversals", json={"amount": 1000}, auth=auth, timeout=5,
                      headers={"X-Transfer-Idempotency": "rv-1"})
    token = requests.post(f"{base}/coinpay/api/auth/login", json={"username": "sandbox",
                          "password": "sandbox-password"}, timeout=5).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    tx = requests.post(f"{base}/coinpay/api/transactions", json={"amount": "10.00", "currency": "USD"},
                       headers=bearer, timeout=5).json()
    requests.post(f"{base}/coinpay/_sandbox/pay", json={"transactionId": tx["transactionId"]}, timeout=5)
    for _ in range(2):
        requests.post(f"{base}/coinpay/api/transactions/{tx['transactionId']}/refunds", timeout=5,
                      json={"amount": "1.00", "currency": "USD"}, headers={**bearer, "Idempotency-Key": "cr-1"})
        requests.post(f"{base}/coinpay/api/payouts", json={"amount": "9.00", "currency": "USD", "walletId": "w1",
                      "metadata": {"settlementId": "7"}}, headers={**bearer, "Idempotency-Key": "po-7"}, timeout=5)
    books = requests.get(f"{base}/_sandbox/books", timeout=5).json()
    server.stop()

    assert [p["id"] for p in books["razorpay"]["payments"]] == [pay_id]
    assert [(r["amount"], r["payment_id"]) for r in books["razorpay"]["refunds"]] == [(1000, pay_id)]
    assert [t["amount"] for t in books["razorpay"]["transfers"]] == [40000]
    assert [r["amount"] for r in books["razorpay"]["reversals"]] == [1000]
    assert [p["transactionId"] for p in books["coinpay"]["payments"]] == [tx["transactionId"]]
    assert [r["amount"] for r in books["coinpay"]["refunds"]] == ["1.00"]
    assert [(p["amount"], p["metadata"]) for p in books["coinpay"]["payouts"]] == [("9.00", {"settlementId": "7"})]

    server, base, _ = _gateways(tmp_path)   # a restart reads the same books back
    try:
        assert requests.get(f"{base}/_sandbox/books", timeout=5).json() == books
    finally:
        server.stop()

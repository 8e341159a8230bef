"""The sandbox server framework: routing, errors, and state that survives a restart."""
import json

import pytest
import requests

from sandbox import server as sandbox_server
from sandbox.server import (
    Headers,
    Request,
    Response,
    Route,
    build_app,
    start_in_thread,
)


def echo(request: Request) -> Response:
    return Response.json(
        {
            "method": request.method,
            "path": request.path,
            "prefix": request.route_prefix,
            "subpath": request.subpath,
            "query": request.query,
            "auth": request.headers.get("authorization"),
            "body": request.text(),
        }
    )


def crash(request: Request) -> Response:
    raise RuntimeError("handler bug")


EXTRA = [
    Route("GET", "/partner", echo),
    Route("POST", "/partner/v1/orders", echo),
    Route("*", "/anything", echo),
    Route("GET", "/crash", crash),
    Route("GET", "/wrong-type", lambda request: {"not": "a Response"}),
    Route("GET", "/page", lambda request: Response.html("<h1>Pay</h1>")),
    Route("POST", "/form", lambda request: Response.json(request.form())),
    Route("POST", "/json", lambda request: Response.json({"got": request.json()}, status=201)),
]


@pytest.fixture
def sandbox(tmp_path):
    server, thread, base_url = start_in_thread(state_dir=tmp_path, modules=[], extra_routes=EXTRA)
    yield base_url
    server.stop()
    thread.join(2)
    assert not thread.is_alive()


def test_health(sandbox):
    response = requests.get(f"{sandbox}/health", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_longest_prefix_wins_and_subpath_is_the_rest(sandbox):
    data = requests.get(f"{sandbox}/partner/v1/things/7?x=1&y=2&x=3", headers={"Authorization": "t"}, timeout=5).json()
    assert data["prefix"] == "/partner" and data["subpath"] == "/v1/things/7"
    assert data["query"] == {"x": "1", "y": "2"}
    assert data["auth"] == "t"

    data = requests.post(f"{sandbox}/partner/v1/orders/o_1/pay", data="hello", timeout=5).json()
    assert (data["prefix"], data["subpath"], data["body"]) == ("/partner/v1/orders", "/o_1/pay", "hello")


def test_shorter_prefix_serves_methods_the_longer_one_lacks(sandbox):
    data = requests.get(f"{sandbox}/partner/v1/orders/o_1", timeout=5).json()
    assert (data["prefix"], data["subpath"]) == ("/partner", "/v1/orders/o_1")


def test_prefix_matches_on_segment_boundaries(sandbox):
    assert requests.get(f"{sandbox}/partnerX", timeout=5).status_code == 404
    assert requests.get(f"{sandbox}/partner/", timeout=5).json()["subpath"] == "/"


def test_unknown_path_is_json_404(sandbox):
    response = requests.get(f"{sandbox}/nope/really", timeout=5)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"error": "not found", "path": "/nope/really"}


def test_wrong_method_is_405_with_allow(sandbox):
    response = requests.delete(f"{sandbox}/partner/v1/orders", timeout=5)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST"
    assert requests.post(f"{sandbox}/page", timeout=5).headers["Allow"] == "GET"


def test_wildcard_method(sandbox):
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        assert requests.request(method, f"{sandbox}/anything", timeout=5).json()["method"] == method


def test_handler_crash_is_json_500_and_server_survives(sandbox):
    response = requests.get(f"{sandbox}/crash", timeout=5)
    assert response.status_code == 500
    assert response.json()["error"] == "internal sandbox error"
    assert "handler bug" in response.json()["detail"]

    assert requests.get(f"{sandbox}/wrong-type", timeout=5).status_code == 500
    assert requests.get(f"{sandbox}/health", timeout=5).status_code == 200


def test_html_form_and_json_helpers(sandbox):
    page = requests.get(f"{sandbox}/page", timeout=5)
    assert page.headers["Content-Type"].startswith("text/html") and page.text == "<h1>Pay</h1>"
    assert requests.post(f"{sandbox}/form", data={"a": "1", "b": ""}, timeout=5).json() == {"a": "1", "b": ""}
    response = requests.post(f"{sandbox}/json", json={"k": [1, 2]}, timeout=5)
    assert (response.status_code, response.json()) == (201, {"got": {"k": [1, 2]}})


def test_keep_alive_session_reuses_the_connection(sandbox):
    with requests.Session() as session:
        for _ in range(20):
            assert session.get(f"{sandbox}/health", timeout=5).json() == {"ok": True}


def test_dispatch_works_without_http(tmp_path):
    app = build_app(tmp_path, modules=[], extra_routes=EXTRA)
    response = app.dispatch(Request("POST", "/partner/v1/orders", body=b"x"))
    assert response.status == 200 and json.loads(response.body)["body"] == "x"
    assert app.dispatch(Request("GET", "/missing")).status == 404


def test_duplicate_routes_are_refused(tmp_path):
    app = build_app(tmp_path, modules=[])
    with pytest.raises(ValueError, match="twice"):
        app.register([Route("GET", "/health", echo)])


def test_route_prefix_must_be_absolute():
    with pytest.raises(ValueError):
        Route("GET", "partner", echo)


def test_headers_are_case_insensitive():
    headers = Headers([("X-Razorpay-Signature", "abc"), ("Content-Type", "application/json")])
    assert headers["x-razorpay-signature"] == "abc"
    assert "CONTENT-TYPE" in headers and headers.get("missing") is None
    assert set(headers) == {"X-Razorpay-Signature", "Content-Type"}


def test_request_json_rejects_empty_body():
    with pytest.raises(ValueError):
        Request("POST", "/x").json()


def test_handler_modules_list_includes_the_nano_node():
    assert "sandbox.nano_node" in sandbox_server.HANDLER_MODULES


def test_modules_get_the_context(tmp_path):
    app = build_app(tmp_path / "state")
    assert app.ctx.state_dir.is_dir()
    assert "nano" in app.ctx.services
    app.close()


def _rpc(base_url: str, **body) -> dict:
    return requests.post(f"{base_url}/nano", json=body, timeout=5).json()


def test_nano_ledger_survives_a_restart(tmp_path):
    shop = "nano_3t6k35gi95xu6tergt6p69ck76ogmitsa8mnijtpxm9fkcm736xtoncuohr3"
    server, _thread, base_url = start_in_thread(state_dir=tmp_path)
    received = _rpc(base_url, action="send", destination=shop, amount="10", auto_receive=True)
    pending = _rpc(base_url, action="send", destination=shop, amount="20", confirmed=False)["block"]
    _rpc(base_url, action="confirm", hash=pending)
    before = {
        "history": _rpc(base_url, action="account_history", account=shop, count=10, raw=True),
        "receivable": _rpc(base_url, action="accounts_receivable", accounts=[shop], count=10, source=True),
        "info": _rpc(base_url, action="block_info", hash=pending, json_block=True),
    }
    server.stop()

    server, _thread, base_url = start_in_thread(state_dir=tmp_path)
    try:
        after = {
            "history": _rpc(base_url, action="account_history", account=shop, count=10, raw=True),
            "receivable": _rpc(base_url, action="accounts_receivable", accounts=[shop], count=10, source=True),
            "info": _rpc(base_url, action="block_info", hash=pending, json_block=True),
        }
        assert after == before
        assert after["info"]["confirmed"] == "true"
        assert after["history"]["history"][0]["hash"] == received["receive_block"]

        # The restored ledger keeps extending the same chains.
        _rpc(base_url, action="receive_all", account=shop)
        assert _rpc(base_url, action="account_info", account=shop)["block_count"] == "2"

        _rpc(base_url, action="reset")
        assert _rpc(base_url, action="account_info", account=shop) == {"error": "Account not found"}
    finally:
        server.stop()

    server, _thread, base_url = start_in_thread(state_dir=tmp_path)
    try:
        assert _rpc(base_url, action="account_info", account=shop) == {"error": "Account not found"}
    finally:
        server.stop()


def test_torn_last_line_is_skipped(tmp_path):
    server, _thread, base_url = start_in_thread(state_dir=tmp_path)
    shop = "nano_1111111111111111111111111111111111111111111111111111hifc8npp"
    sent = _rpc(base_url, action="send", destination=shop, amount="5")["block"]
    server.stop()
    with (tmp_path / "nano.jsonl").open("a") as log:
        log.write('{"t":"block","hash":"AB')  # a crash mid-write

    server, _thread, base_url = start_in_thread(state_dir=tmp_path)
    try:
        assert _rpc(base_url, action="block_info", hash=sent)["amount"] == "5"
        later = _rpc(base_url, action="send", destination=shop, amount="6")["block"]
    finally:
        server.stop()

    server, _thread, base_url = start_in_thread(state_dir=tmp_path)
    try:
        assert _rpc(base_url, action="block_info", hash=later)["amount"] == "6"
    finally:
        server.stop()


def test_an_idle_keep_alive_connection_closes_without_a_request_timed_out_line(monkeypatch, capfd):
    """A client that keeps a connection open and goes quiet is normal keep-alive, not an error:
    `make run` used to print "Request timed out: TimeoutError('timed out')" for each one."""
    import socket
    import time

    monkeypatch.setattr(sandbox_server._RequestHandler, "timeout", 0.2)
    server, _thread, url = start_in_thread(modules=[], extra_routes=EXTRA, log_requests=True)
    try:
        assert requests.get(f"{url}/partner", timeout=5).status_code == 200
        idle = socket.create_connection((server.server_address[0], server.server_address[1]))
        time.sleep(0.6)
        idle.close()
    finally:
        server.stop()
    err = capfd.readouterr().err
    assert "GET /partner" in err  # request lines still go out
    assert "timed out" not in err

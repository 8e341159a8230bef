"""An anonymous "I've paid" without a block hash costs bounded work (issue: 16 at once stalled the site).

Kassa runs in live_server (threaded), the node is the sandbox process. Each seller's address has a long
history (2,000 sends out of it), which a one-off history walk per click would read page by page.
"""
import re
import threading
import time

import pytest
import requests

from orders.actors import Actor
from payments.monitor import monitor_tick
from payments.providers.nano_rpc import NanoRpcClient
from payments.providers.registry import get_provider, reset_providers
from payments.services import payment_start
from sandbox.nano_node import FAUCET
from tests.factories import OrderFactory, PayoutDestinationFactory, SellerFactory
from tests.integration.conftest import _shares_database_across_threads

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SELLERS, PER_SELLER = 4, 4
CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture
def site(sandbox_process, live_server, settings):
    if not _shares_database_across_threads():
        pytest.skip("needs PostgreSQL (DATABASE_URL) or a file SQLite test DB (SQLITE_TEST_NAME=var/test.sqlite3)")
    settings.SANDBOX_MODE = True
    reset_providers()
    node = NanoRpcClient(f"{sandbox_process}/nano", retries=0)
    node.call("sandbox_fault", mode="none")
    yield live_server.url, node
    reset_providers()


def _busy_shop(node):
    seller = SellerFactory(default_currency="XNO", enabled_methods=["nano"])
    address = PayoutDestinationFactory(seller=seller, method="nano").value
    node.call("send", destination=address, amount=str(10**30), auto_receive=True)
    node.call("bulk_send", source=address, sends=[{"destination": FAUCET, "amount": "1"} for _ in range(2_000)])
    return seller


def _pay_page(base, payment):
    """A shopper's browser session on the pay page: (session, csrf token)."""
    session = requests.Session()
    page = session.get(f"{base}/checkout/{payment.order.checkout_token}/pay/nano/", timeout=10)
    assert page.status_code == 200
    return session, CSRF_RE.search(page.text).group(1)


def _ive_paid(base, session, token, payment):
    url = f"{base}/checkout/{payment.order.checkout_token}/verify/"
    return session.post(url, data={"csrfmiddlewaretoken": token, "method": "nano", "reference": ""},
                        headers={"Referer": url}, timeout=30)


def test_sixteen_parallel_ive_paid_answer_fast_and_read_each_address_once(site):
    base, node = site
    sellers = [_busy_shop(node) for _ in range(SELLERS)]
    payments = [payment_start(order_id=OrderFactory(seller=seller, currency="XNO", amount=3_000_000).pk,
                              method="nano", actor=Actor.shopper())
                for seller in sellers for _ in range(PER_SELLER)]
    monitor_tick(("nano",))  # the beat tick has run: every address has its cursor
    shoppers = [(_pay_page(base, payment), payment) for payment in payments]
    provider = get_provider("nano")
    calls_before = provider.client.calls

    barrier = threading.Barrier(len(shoppers) + 1)
    answers: dict[int, tuple[int, float, str]] = {}

    def click(i, session, token, payment):
        barrier.wait()
        started = time.perf_counter()
        response = _ive_paid(base, session, token, payment)
        answers[i] = (response.status_code, time.perf_counter() - started, response.text)

    storefront = {}

    def browse():
        barrier.wait()
        time.sleep(0.1)  # while the clicks are in flight
        started = time.perf_counter()
        storefront["status"] = requests.get(f"{base}/s/{sellers[0].slug}/", timeout=30).status_code
        storefront["seconds"] = time.perf_counter() - started

    threads = [threading.Thread(target=click, args=(i, session, token, payment))
               for i, ((session, token), payment) in enumerate(shoppers)]
    threads.append(threading.Thread(target=browse))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(answers) == len(shoppers)
    for status, seconds, text in answers.values():
        assert status == 200 and seconds < 2.0, (status, seconds)
        assert "checking" in text
    assert storefront == {"status": 200, "seconds": storefront["seconds"]} and storefront["seconds"] < 2.0
    # Bounded: at most one batched read (accounts_receivable + accounts_frontiers) per address.
    assert provider.client.calls - calls_before <= 2 * SELLERS


def test_ive_paid_is_rate_limited_per_checkout(site):
    base, node = site
    seller = _busy_shop(node)
    payment = payment_start(order_id=OrderFactory(seller=seller, currency="XNO", amount=3_000_000).pk,
                            method="nano", actor=Actor.shopper())
    monitor_tick(("nano",))
    session, token = _pay_page(base, payment)
    provider = get_provider("nano")
    calls_before = provider.client.calls
    first = _ive_paid(base, session, token, payment)
    after_first = provider.client.calls
    again = [_ive_paid(base, session, token, payment) for _ in range(5)]
    assert first.status_code == 200 and "checking" in first.text
    assert 0 < after_first - calls_before <= 2
    assert all(r.status_code == 200 and "We just checked" in r.text for r in again)
    assert provider.client.calls == after_first  # no node call for the repeats

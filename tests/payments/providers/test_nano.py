"""NanoProvider against the sandbox node served in a thread (real RPC shapes over HTTP)."""
import json
from decimal import Decimal
from types import SimpleNamespace

import pytest
import responses

from core.nano_codec import RAW_PER_MICRO, public_key_hex
from payments.providers.errors import (
    ProviderNotConfigured,
    ProviderRejected,
    ProviderUnavailable,
    VerificationFailed,
)
from payments.providers.nano import (
    CHUNK,
    NanoProvider,
    WatchedAccount,
    payment_qr_svg,
    payment_uri,
    refund_raw,
)
from payments.providers.nano_rpc import NanoRpcClient
from payments.providers.rates import FixedRateSource, HttpRateSource, rate_source_from_settings
from sandbox.nano_node import FAUCET
from sandbox.server import start_in_thread
from tests.factories import OrderFactory, PaymentFactory, PayoutDestinationFactory, SellerFactory, nano_address

SHOP = nano_address("provider-test-shop")
OTHER = nano_address("provider-test-other")


@pytest.fixture
def node(tmp_path, settings):
    server, _thread, base_url = start_in_thread(state_dir=tmp_path)
    settings.NANO_RPC_URL = f"{base_url}/nano"
    yield NanoRpcClient(settings.NANO_RPC_URL, retries=0)
    server.stop()


@pytest.fixture
def provider(node):
    return NanoProvider(rates=FixedRateSource({"USD": "1000000", "INR": "12000.5"}))


def send(node, destination, raw, *, auto_receive=False, confirmed=True, source="faucet"):
    answer = node.call("send", source=source, destination=destination, amount=str(raw),
                       auto_receive=auto_receive, confirmed=confirmed)
    return answer["block"]


def fake_payment(pay_to=SHOP, micro=1_500_000, **extra):
    fields = {"pk": "7b0b3a3e-0000-4000-8000-000000000001", "pay_to": pay_to, "amount_due": micro,
              "currency": "XNO", "rate": None, "tx_id": ""}
    return SimpleNamespace(**{**fields, **extra})


# --- availability, quotes, start ------------------------------------------------------------


@pytest.mark.django_db
def test_available_only_with_a_valid_nano_address(provider):
    order = OrderFactory(currency="USD", amount=1000)
    assert not provider.is_available(order.seller, order)
    PayoutDestinationFactory(seller=order.seller, method="nano")
    order.seller.refresh_from_db()
    assert provider.is_available(order.seller, order)
    assert not provider.is_available(order.seller, OrderFactory(seller=order.seller, currency="EUR", amount=100))


@pytest.mark.django_db
def test_an_address_with_a_bad_checksum_is_not_available(provider):
    seller = SellerFactory()
    good = nano_address("bad-checksum")
    PayoutDestinationFactory(seller=seller, value=good[:-1] + ("1" if good[-1] != "1" else "3"))
    with pytest.raises(ProviderNotConfigured):
        provider.quote(seller, OrderFactory(seller=seller, currency="XNO", amount=5))
    assert not provider.is_available(seller, OrderFactory(seller=seller, currency="XNO", amount=5))


@pytest.mark.django_db
def test_xno_priced_order_is_due_as_priced(provider):
    destination = PayoutDestinationFactory(value=nano_address("xno").replace("nano_", "xrb_"))
    order = OrderFactory(seller=destination.seller, currency="XNO", amount=2_500_000)
    quote = provider.quote(destination.seller, order)
    assert (quote.pay_currency, quote.amount_due, quote.rate, quote.unique_amount) == ("XNO", 2_500_000, None, True)
    assert quote.pay_to == nano_address("xno")  # normalized to nano_


@pytest.mark.django_db
def test_fiat_order_locks_the_rate_and_rounds_up_to_whole_micro_xno(provider):
    destination = PayoutDestinationFactory()
    # 12000.5 µXNO per rupee = 120.005 µXNO per paisa; 333 paise → 39961.665 → 39962 (up).
    quote = provider.quote(destination.seller, OrderFactory(seller=destination.seller, currency="INR", amount=333))
    assert quote.amount_due == 39962
    assert quote.rate == Decimal("120.005") and quote.rate_source == "fixed"
    usd = provider.quote(destination.seller, OrderFactory(seller=destination.seller, currency="USD", amount=1999))
    assert usd.amount_due == 19_990_000 and isinstance(usd.amount_due, int)


@pytest.mark.django_db
def test_fiat_without_a_rate_is_refused(provider):
    destination = PayoutDestinationFactory()
    with pytest.raises(ProviderNotConfigured):
        provider.quote(destination.seller, OrderFactory(seller=destination.seller, currency="EUR", amount=100))


def test_start_gives_the_exact_raw_uri_and_a_qr_code(provider):
    instructions = provider.start(fake_payment(micro=1_500_001))
    assert instructions.payment_uri == f"nano:{SHOP}?amount=1500001{'0' * 24}"
    assert instructions.pay_to == SHOP
    assert instructions.qr_svg == "", "the QR is rendered by the pay page, not on every API start"
    svg = payment_qr_svg(instructions.payment_uri)
    assert svg.startswith("<svg") and "Scan to pay" in svg and 'class="qr-code"' in svg


def test_payment_uri_keeps_every_digit():
    assert payment_uri(SHOP, 10**30 + 1).endswith("amount=1000000000000000000000000000001")


# --- the batched scan -------------------------------------------------------------------------


def test_scan_reports_receivable_sends_with_their_source(provider, node):
    block = send(node, SHOP, 5 * RAW_PER_MICRO)
    result = provider.scan([WatchedAccount(SHOP)])
    [obs] = result.observations
    assert (obs.external_tx_id, obs.amount, obs.pay_to, obs.source_account, obs.confirmed) == (
        block, 5 * RAW_PER_MICRO, SHOP, FAUCET, True)
    # Unopened account: no frontier, so no history read. Two calls: receivable + frontiers.
    assert result.rpc_calls == 2 and result.history_reads == [] and result.cursors == {}


def test_unconfirmed_sends_are_not_reported_as_receivable(provider, node):
    send(node, SHOP, 7, confirmed=False)
    assert provider.scan([WatchedAccount(SHOP)]).observations == []


def test_a_received_send_is_found_through_history_under_its_send_hash(provider, node):
    block = send(node, SHOP, 9 * RAW_PER_MICRO, auto_receive=True)
    result = provider.scan([WatchedAccount(SHOP)])
    [obs] = result.observations
    assert obs.external_tx_id == block and obs.amount == 9 * RAW_PER_MICRO and obs.raw["via"] == "history"
    assert obs.source_account == FAUCET
    frontier = node.accounts_frontiers([SHOP])[SHOP]
    assert result.cursors == {SHOP: frontier} and result.history_reads == [SHOP] and result.rpc_calls == 3


def test_history_is_read_only_when_the_frontier_moved_and_stops_at_the_cursor(provider, node):
    send(node, SHOP, 1, auto_receive=True)
    cursor = provider.scan([WatchedAccount(SHOP)]).cursors[SHOP]
    unchanged = provider.scan([WatchedAccount(SHOP, cursor)])
    assert unchanged.observations == [] and unchanged.rpc_calls == 2 and unchanged.history_reads == []
    newer = send(node, SHOP, 2, auto_receive=True)
    moved = provider.scan([WatchedAccount(SHOP, cursor)])
    assert [o.external_tx_id for o in moved.observations] == [newer]  # the older one is below the cursor


def test_an_unconfirmed_receive_keeps_the_cursor_so_it_is_read_again(provider, node):
    block = send(node, SHOP, 3, auto_receive=True, confirmed=False)
    first = provider.scan([WatchedAccount(SHOP)])
    assert [(o.external_tx_id, o.confirmed) for o in first.observations] == [(block, False)]
    assert first.cursors == {}
    node.call("confirm", hash=node.accounts_frontiers([SHOP])[SHOP])
    second = provider.scan([WatchedAccount(SHOP)])
    assert [(o.external_tx_id, o.confirmed) for o in second.observations] == [(block, True)]
    assert SHOP in second.cursors


def test_a_new_cursor_reads_history_back_to_the_oldest_reservation_only(provider, node):
    send(node, SHOP, 1, auto_receive=True)
    future = 2**40  # every block is older than this "oldest reservation"
    assert provider.scan([WatchedAccount(SHOP, "", since=future)]).observations == []


def test_scan_calls_grow_with_chunks_and_changed_accounts_not_payments(provider, node):
    accounts = [WatchedAccount(nano_address(f"many-{i}")) for i in range(CHUNK + 5)]
    node.call("bulk_send", sends=[{"destination": a.address, "amount": str(RAW_PER_MICRO)} for a in accounts[:50]])
    send(node, accounts[3].address, 2, auto_receive=True)
    send(node, accounts[CHUNK + 1].address, 2, auto_receive=True)
    result = provider.scan(accounts)
    assert result.rpc_calls == 2 * 2 + 2   # two chunks × (receivable + frontiers) + two histories
    assert len(result.observations) == 52


def test_scan_raises_provider_unavailable_when_the_node_fails(provider, node):
    node.call("sandbox_fault", mode="error500")
    with pytest.raises(ProviderUnavailable):
        provider.scan([WatchedAccount(SHOP)])


@pytest.mark.django_db
def test_poll_checks_the_payments_addresses(provider, node):
    payment = PaymentFactory(pay_to=SHOP)
    block = send(node, SHOP, payment.amount_due * RAW_PER_MICRO, auto_receive=True)
    assert [o.external_tx_id for o in provider.poll([payment])] == [block]
    assert provider.poll([]) == []


# --- verify --------------------------------------------------------------------------------------


def test_verify_accepts_a_confirmed_send_of_the_exact_amount(provider, node):
    payment = fake_payment()
    block = send(node, SHOP, payment.amount_due * RAW_PER_MICRO)
    [obs] = provider.verify(payment, block.lower() + "\n")
    assert (obs.external_tx_id, obs.payment_ref, obs.confirmed, obs.amount) == (
        block, payment.pk, True, payment.amount_due * RAW_PER_MICRO)


@pytest.mark.parametrize("case, reason", [
    ("unknown", "block_not_found"),
    ("wrong_destination", "wrong_destination"),
    ("wrong_amount", "wrong_amount"),
    ("unconfirmed", "not_confirmed"),
    ("receive_block", "not_a_send"),
    ("garbage", "bad_reference"),
])
def test_verify_refuses_with_a_reason(provider, node, case, reason):
    payment = fake_payment()
    due = payment.amount_due * RAW_PER_MICRO
    reference = {
        "unknown": "A" * 64,
        "wrong_destination": lambda: send(node, OTHER, due),
        "wrong_amount": lambda: send(node, SHOP, due + 1),
        "unconfirmed": lambda: send(node, SHOP, due, confirmed=False),
        "receive_block": lambda: node.call("send", source="faucet", destination=SHOP, amount=str(due),
                                           auto_receive=True)["receive_block"],
        "garbage": "not-a-hash",
    }[case]
    reference = reference() if callable(reference) else reference
    with pytest.raises(VerificationFailed) as caught:
        provider.verify(payment, reference)
    assert caught.value.reason == reason and caught.value.user_message


def test_verify_compares_public_keys_so_xrb_addresses_match(provider, node):
    payment = fake_payment(pay_to=SHOP.replace("nano_", "xrb_"))
    block = send(node, SHOP, payment.amount_due * RAW_PER_MICRO)
    assert provider.verify(payment, block)[0].external_tx_id == block
    assert public_key_hex(SHOP) == public_key_hex(payment.pay_to)


# --- webhooks, refunds ----------------------------------------------------------------------------


def test_nano_has_no_webhooks(provider):
    with pytest.raises(ProviderRejected):
        provider.read_event(b"{}", {})


def test_kassa_never_claims_to_send_a_nano_refund(provider):
    """Non-custodial: the seller sends it (tests/payments/test_nano_refunds.py); refund() refuses."""
    with pytest.raises(ProviderRejected, match="cannot send the seller's XNO"):
        provider.refund(fake_payment(currency="INR", rate=Decimal("120.005")), 333, idempotency_key="k")


def test_refund_raw_converts_at_the_locked_rate_and_returns_a_whole_payment_as_received():
    payment = fake_payment(currency="INR", rate=Decimal("120.005"), amount=1000, amount_received_int=0)
    assert refund_raw(payment, 333) == 39962 * RAW_PER_MICRO  # 39961.665 µXNO, rounded up
    received = fake_payment(currency="XNO", amount=2_000_000, amount_received_int=2_000_001 * RAW_PER_MICRO)
    assert refund_raw(received, 2_000_000) == 2_000_001 * RAW_PER_MICRO
    assert refund_raw(received, 500_000) == 500_000 * RAW_PER_MICRO


# --- rate sources -----------------------------------------------------------------------------------


def test_rate_source_is_chosen_by_settings(settings):
    settings.NANO_RATE_SOURCE = "fixed"
    assert isinstance(rate_source_from_settings(), FixedRateSource)
    settings.NANO_RATE_SOURCE = "http"
    assert isinstance(rate_source_from_settings(), HttpRateSource)
    settings.NANO_RATE_SOURCE = "magic"
    with pytest.raises(ProviderNotConfigured):
        rate_source_from_settings()


def test_fixed_rates_must_be_positive_numbers():
    with pytest.raises(ProviderNotConfigured):
        FixedRateSource({"USD": "-1"})
    with pytest.raises(ProviderNotConfigured):
        FixedRateSource({"USD": "cheap"})


@responses.activate
def test_http_rate_source_parses_prices_exactly_and_caches():
    url = "https://prices.test/simple?ids=nano&vs={currency}"
    responses.get("https://prices.test/simple?ids=nano&vs=usd", body='{"nano": {"usd": 0.8}}')
    source = HttpRateSource(url, ttl=60)
    rate = source.rate("USD")
    assert rate.micro_xno_per_major == Decimal("1250000") and rate.source == "http:prices.test"
    source.rate("usd")
    assert len(responses.calls) == 1  # cached


@responses.activate
@pytest.mark.parametrize("status, body", [(503, "{}"), (200, "<html>"), (200, '{"nano": {}}'),
                                          (200, '{"nano": {"usd": 0}}'), (200, json.dumps({"nano": {"usd": "x"}}))])
def test_http_rate_source_maps_bad_answers_to_unavailable(status, body):
    responses.get("https://prices.test/p?c=usd", body=body, status=status)
    with pytest.raises(ProviderUnavailable):
        HttpRateSource("https://prices.test/p?c={currency}", ttl=0).rate("USD")


# --- floods and truncation (issue 15 item 11, issue 21 item 2) --------------------------------


@pytest.mark.django_db
def test_a_flood_of_dust_cannot_hide_a_payment(provider, node):
    from payments.monitor_nano import tick

    payment = PaymentFactory(pay_to=SHOP, amount_due=2_000_001)
    node.call("bulk_send", source="faucet", sends=[{"destination": SHOP, "amount": "1"} for _ in range(5000)])
    block = send(node, SHOP, 2_000_001 * RAW_PER_MICRO)
    tick(provider=provider)
    payment.refresh_from_db()
    if payment.status != "completed":
        tick(provider=provider)
        payment.refresh_from_db()
    assert payment.status == "completed" and payment.tx_id == block


@pytest.mark.django_db
def test_a_full_receivable_list_is_paged_so_hash_order_cannot_cut_a_payment(provider, node, settings):
    settings.NANO_RECEIVABLE_COUNT = 20
    node.call("bulk_send", source="faucet", sends=[{"destination": SHOP, "amount": str(7 * RAW_PER_MICRO)}
                                                   for _ in range(150)])
    block = send(node, SHOP, 2_000_001 * RAW_PER_MICRO)
    listed = node.call("accounts_receivable", accounts=[SHOP], count="20", threshold=str(RAW_PER_MICRO))
    assert list(listed["blocks"][SHOP]) == sorted(listed["blocks"][SHOP]), "the node's hash order"
    result = provider.scan([WatchedAccount(SHOP)])
    assert block in {obs.external_tx_id for obs in result.observations}
    assert len(result.observations) == 151 and result.rpc_calls <= 4

"""Nano refunds tell the truth: Kassa cannot send the seller's XNO, so a Nano refund waits
for the seller (`awaiting_seller`) and succeeds only when the node shows the seller's send.
Against the sandbox node served in a thread (real RPC shapes over HTTP)."""
import pytest
from rest_framework.test import APIClient

from core.nano_codec import RAW_PER_MICRO, format_raw
from orders.actors import Actor
from orders.models import Order
from payments import monitor_nano
from payments.models import LedgerEntry, Payment, Refund
from payments.providers import registry
from payments.providers.errors import PaymentError, VerificationFailed
from payments.providers.nano_rpc import NanoRpcClient
from payments.services import PaymentStateError, payment_refund, payment_start, refund_cancel, refund_nano_verify
from payments.staff.services import payment_refund_duplicate
from sandbox.server import start_in_thread
from sellers.services import api_key_create
from tests.factories import OrderFactory, PaymentFactory, PayoutDestinationFactory, SellerFactory, nano_address
from tests.sellers.dashboard_helpers import login

pytestmark = pytest.mark.django_db

SHOPPER = nano_address("refund-shopper")
STRANGER = nano_address("refund-stranger")


@pytest.fixture
def node(tmp_path, settings):
    server, _thread, base_url = start_in_thread(state_dir=tmp_path)
    settings.NANO_RPC_URL = f"{base_url}/nano"
    settings.SANDBOX_MODE = True
    registry.reset_providers()
    yield NanoRpcClient(settings.NANO_RPC_URL, retries=0)
    server.stop()
    registry.reset_providers()


def send(node, source, destination, raw) -> str:
    return node.call("send", source=source, destination=destination, amount=str(raw), confirmed=True)["block"]


@pytest.fixture
def paid(node):
    """A Nano payment of 2 XNO (plus its unique suffix) the shopper sent from SHOPPER, completed by a tick."""
    seller = SellerFactory(default_currency="XNO")
    PayoutDestinationFactory(seller=seller, method="nano")
    order = OrderFactory(seller=seller, currency="XNO", amount=2_000_000)
    payment = payment_start(order_id=order.pk, method="nano", actor=Actor.shopper())
    send(node, SHOPPER, payment.pay_to, payment.amount_due * RAW_PER_MICRO)
    monitor_nano.tick()
    payment.refresh_from_db()
    assert payment.status == "completed"
    return payment


def refund_entries(payment):
    return LedgerEntry.objects.filter(payment=payment, kind=LedgerEntry.Kind.REFUND)


def test_a_nano_refund_waits_for_the_seller_with_exactly_what_to_send(paid):
    refund = payment_refund(payment=paid, actor=Actor.system("seller"))
    assert refund.status == "awaiting_seller" and refund.completed_at is None
    assert (refund.send_from, refund.send_to) == (paid.pay_to, SHOPPER)
    assert refund.amount_raw == str(paid.amount_due * RAW_PER_MICRO), "the whole payment returns what arrived"
    assert refund.provider_refund_id == ""
    paid.refresh_from_db()
    assert paid.status == "completed" and paid.refunded_amount == 0
    assert Order.objects.get(pk=paid.order_id).status == "paid"
    assert not refund_entries(paid).exists(), "no ledger entry before the money moved"
    with pytest.raises(PaymentError, match="Nothing is left"):  # the waiting refund counts against what is left
        payment_refund(payment=paid, actor=Actor.system("seller"))


def test_the_monitor_finds_the_sellers_send_and_only_then_writes_the_ledger(node, paid):
    refund = payment_refund(payment=paid, actor=Actor.system("seller"))
    raw = int(refund.amount_raw)
    send(node, paid.pay_to, STRANGER, raw)        # right amount, wrong account
    send(node, paid.pay_to, SHOPPER, raw - 1)     # right account, wrong amount
    send(node, STRANGER, SHOPPER, raw)            # not from the seller
    assert monitor_nano.tick()["refunds"]["settled"] == 0
    assert Refund.objects.get(pk=refund.pk).status == "awaiting_seller"
    block = send(node, paid.pay_to, SHOPPER, raw)
    assert monitor_nano.tick()["refunds"] == {"awaiting": 1, "sends_seen": 3, "settled": 1}
    refund.refresh_from_db()
    assert refund.status == "succeeded" and refund.provider_refund_id == block and refund.completed_at
    paid.refresh_from_db()
    assert paid.status == "refunded" and paid.refunded_amount == paid.amount
    assert Order.objects.get(pk=paid.order_id).status == "refunded"
    entry = refund_entries(paid).get()
    assert (entry.gross, entry.net, entry.custody) == (-paid.amount, -paid.amount, "seller")
    assert monitor_nano.tick()["refunds"] == {"awaiting": 0, "settled": 0}


def test_a_send_made_before_the_refund_does_not_count(node, paid):
    old = send(node, paid.pay_to, SHOPPER, 500_000 * RAW_PER_MICRO)
    refund = payment_refund(payment=paid, actor=Actor.system("seller"), amount_minor=500_000)
    assert refund.amount_raw == str(500_000 * RAW_PER_MICRO)
    assert monitor_nano.tick()["refunds"]["settled"] == 0
    with pytest.raises(VerificationFailed, match="made before this refund was created"):
        refund_nano_verify(refund=refund, reference=old, actor=Actor.system("seller"))
    assert Refund.objects.get(pk=refund.pk).status == "awaiting_seller"


def test_two_equal_refunds_need_two_sends(node, paid):
    first = payment_refund(payment=paid, actor=Actor.system("seller"), amount_minor=400_000)
    second = payment_refund(payment=paid, actor=Actor.system("seller"), amount_minor=400_000)
    send(node, paid.pay_to, SHOPPER, 400_000 * RAW_PER_MICRO)
    assert monitor_nano.tick()["refunds"]["settled"] == 1
    assert Refund.objects.get(pk=first.pk).status == "succeeded"
    assert Refund.objects.get(pk=second.pk).status == "awaiting_seller"
    send(node, paid.pay_to, SHOPPER, 400_000 * RAW_PER_MICRO)
    monitor_nano.tick()
    assert Refund.objects.get(pk=second.pk).status == "succeeded"
    paid.refresh_from_db()
    assert paid.status == "partially_refunded" and paid.refunded_amount == 800_000
    assert refund_entries(paid).count() == 2


@pytest.mark.parametrize(("case", "message"), [
    ("wrong_amount", "not 0.5 XNO"),
    ("wrong_account", "not to the shopper's account"),
    ("wrong_sender", "not from your address"),
    ("not_a_send", "not a send"),
    ("garbage", "64 hex characters"),
    ("unknown", "does not know that block"),
])
def test_a_pasted_hash_is_checked_on_the_node_with_a_clear_message(node, paid, case, message):
    refund = payment_refund(payment=paid, actor=Actor.system("seller"), amount_minor=500_000)
    raw = 500_000 * RAW_PER_MICRO
    reference = {
        "wrong_amount": lambda: send(node, paid.pay_to, SHOPPER, raw + 1),
        "wrong_account": lambda: send(node, paid.pay_to, STRANGER, raw),
        "wrong_sender": lambda: send(node, STRANGER, SHOPPER, raw),
        "not_a_send": lambda: node.call("receive_all", account=paid.pay_to)["blocks"][0],  # the seller's receive
        "garbage": lambda: "xyz",
        "unknown": lambda: "AB" * 32,
    }[case]()
    with pytest.raises(VerificationFailed, match=message) as caught:
        refund_nano_verify(refund=refund, reference=reference, actor=Actor.system("seller"))
    assert message in caught.value.user_message
    assert Refund.objects.get(pk=refund.pk).status == "awaiting_seller"
    assert not refund_entries(paid).exists()


def test_a_pasted_hash_of_the_right_send_succeeds_once_and_settles_one_refund(node, paid):
    first = payment_refund(payment=paid, actor=Actor.system("seller"), amount_minor=500_000)
    second = payment_refund(payment=paid, actor=Actor.system("seller"), amount_minor=500_000)
    block = send(node, paid.pay_to, SHOPPER, 500_000 * RAW_PER_MICRO)
    done = refund_nano_verify(refund=first, reference=block.lower(), actor=Actor.system("seller"))
    assert done.status == "succeeded" and done.provider_refund_id == block
    with pytest.raises(PaymentError, match="already settled another refund"):
        refund_nano_verify(refund=second, reference=block, actor=Actor.system("seller"))
    with pytest.raises(PaymentError, match="nothing to check"):
        refund_nano_verify(refund=done, reference=block, actor=Actor.system("seller"))
    monitor_nano.tick()  # the monitor sees the same send: it settles nothing more
    assert Refund.objects.get(pk=second.pk).status == "awaiting_seller"
    assert refund_entries(paid).count() == 1


def test_a_fiat_priced_refund_converts_at_the_locked_rate(node, settings):
    settings.NANO_FIXED_RATES = {"INR": "12000.5"}
    registry.reset_providers()
    seller = SellerFactory(default_currency="INR")
    PayoutDestinationFactory(seller=seller, method="nano")
    order = OrderFactory(seller=seller, currency="INR", amount=1000)
    payment = payment_start(order_id=order.pk, method="nano", actor=Actor.shopper())
    send(node, SHOPPER, payment.pay_to, payment.amount_due * RAW_PER_MICRO)
    monitor_nano.tick()
    payment.refresh_from_db()
    refund = payment_refund(payment=payment, actor=Actor.system("seller"), amount_minor=333)
    assert refund.amount_raw == str(39962 * RAW_PER_MICRO)  # 333 paise × 120.005 µXNO, rounded up


# --- what the seller, the API and the shopper see ------------------------------------------------

def test_the_api_says_the_refund_waits_for_the_seller(node, paid):
    _, key = api_key_create(seller=paid.seller)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    response = api.post(f"/api/v1/payments/{paid.pk}/refunds/", {"amount": 500_000}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    raw = str(500_000 * RAW_PER_MICRO)
    assert body["status"] == "awaiting_seller"
    assert body["nano_send"] == {"from": paid.pay_to, "to": SHOPPER, "amount_raw": raw, "amount_xno": "0.5",
                                 "uri": f"nano:{SHOPPER}?amount={raw}", "block": ""}
    schema = api.get("/api/schema/?format=json").json()["components"]["schemas"]
    assert "awaiting_seller" in schema["RefundStatusEnum"]["enum"]
    assert set(schema["NanoRefundSend"]["properties"]) == {"from", "to", "amount_raw", "amount_xno", "uri", "block"}
    assert schema["Refund"]["properties"]["nano_send"]


def test_the_dashboard_shows_what_to_send_and_checks_a_pasted_hash(client, node, paid):
    from tests.factories import MembershipFactory

    user = MembershipFactory(seller=paid.seller).user
    login(client, user)
    response = client.post(f"/dashboard/payments/{paid.pk}/refund/", {f"refund-{paid.pk}-amount": "0.5",
                                                                     "confirm": "yes"}, follow=True)
    refund = Refund.objects.get(payment=paid)
    assert refund.status == "awaiting_seller"
    assert response.redirect_chain[-1][0] == f"/dashboard/refunds/{refund.pk}/"
    page = response.content.decode()
    raw = str(500_000 * RAW_PER_MICRO)
    assert "Send this refund from your Nano wallet" in page and "Waiting for the seller to send" in page
    for text in (SHOPPER, paid.pay_to, raw, "0.5 XNO", f'href="nano:{SHOPPER}?amount={raw}"', 'class="qr-code"',
                 f'data-copy="{SHOPPER}"'):
        assert text in page, text
    order_page = client.get(f"/dashboard/orders/{paid.order_id}/").content.decode()
    assert "Kassa cannot send your XNO" in order_page and f"/dashboard/refunds/{refund.pk}/" in order_page
    wrong = send(node, paid.pay_to, SHOPPER, 1)
    response = client.post(f"/dashboard/refunds/{refund.pk}/verify/", {"block_hash": wrong})
    assert response.status_code == 400 and "not 0.5 XNO" in response.content.decode()
    right = send(node, paid.pay_to, SHOPPER, int(raw))
    response = client.post(f"/dashboard/refunds/{refund.pk}/verify/", {"block_hash": right}, follow=True)
    page = response.content.decode()
    assert "the refund succeeded" in page and right in page and "Send this refund" not in page
    assert Refund.objects.get(pk=refund.pk).status == "succeeded"


def test_the_shoppers_page_says_the_refund_is_on_its_way_then_done(client, node, paid):
    refund = payment_refund(payment=paid, actor=Actor.system("seller"))
    url = f"/checkout/{paid.order.checkout_token}/done/"
    page = client.get(url).content.decode()
    assert "on its way" in page and SHOPPER in page and "Refunded" not in page
    block = send(node, paid.pay_to, SHOPPER, int(refund.amount_raw))
    monitor_nano.tick()
    page = client.get(url).content.decode()
    assert "on its way" not in page and f"Refunded {format_raw(int(refund.amount_raw))} XNO" in page
    assert block in page
    assert Payment.objects.get(pk=paid.pk).status == "refunded"


def test_a_cancelled_refund_frees_what_is_left_and_a_later_send_is_ignored(node, paid):
    """An abandoned Nano refund no longer blocks the rest of the payment. Once cancelled it is
    final: the monitor stops looking for its send, so a send made after all is not counted."""
    refund = payment_refund(payment=paid, actor=Actor.system("seller"))
    refund = refund_cancel(refund=refund, actor=Actor.system("seller"))
    assert refund.status == "cancelled" and refund.completed_at is not None
    send(node, paid.pay_to, SHOPPER, int(refund.amount_raw))
    assert monitor_nano.tick()["refunds"] == {"awaiting": 0, "settled": 0}
    assert Refund.objects.get(pk=refund.pk).status == "cancelled"
    with pytest.raises(PaymentStateError, match="cancelled"):
        refund_nano_verify(refund=Refund.objects.get(pk=refund.pk), reference="AB" * 32, actor=Actor.system("seller"))
    paid.refresh_from_db()
    assert paid.status == "completed" and paid.refunded_amount == 0 and not refund_entries(paid).exists()
    again = payment_refund(payment=paid, actor=Actor.system("seller"))
    assert again.amount == paid.amount and again.status == "awaiting_seller"


def test_the_dashboard_cancels_a_waiting_refund_after_confirmation(client, node, paid):
    from tests.factories import MembershipFactory

    login(client, MembershipFactory(seller=paid.seller).user)
    refund = payment_refund(payment=paid, actor=Actor.system("seller"))
    page = client.get(f"/dashboard/refunds/{refund.pk}/").content.decode()
    assert f'action="/dashboard/refunds/{refund.pk}/cancel/"' in page and "data-confirm=" in page
    assert client.get(f"/dashboard/refunds/{refund.pk}/cancel/").status_code == 405
    response = client.post(f"/dashboard/refunds/{refund.pk}/cancel/", follow=True)
    assert response.redirect_chain[-1][0] == f"/dashboard/refunds/{refund.pk}/"
    page = response.content.decode()
    assert "Refund cancelled" in page and "Send this refund" not in page and "/cancel/" not in page
    assert Refund.objects.get(pk=refund.pk).status == "cancelled"
    page = client.post(f"/dashboard/refunds/{refund.pk}/cancel/", follow=True).content.decode()
    assert "already cancelled" in page


def test_a_withdrawn_duplicate_refund_reopens_the_review(node, paid):
    """Staff refund a duplicate Nano payment, which closes its review; the seller then cancels
    the send. The shopper's money is still owed, so the review opens again."""
    second = PaymentFactory(order=paid.order, seller=paid.seller, pay_to=paid.pay_to)
    send(node, STRANGER, second.pay_to, second.amount_due * RAW_PER_MICRO)
    monitor_nano.tick()
    second.refresh_from_db()
    assert "duplicate" in second.exceptions and second.status == "completed"
    refund = payment_refund_duplicate(payment=second, actor=Actor.system("staff"))
    second.refresh_from_db()
    assert (refund.status, second.review_status) == ("awaiting_seller", "resolved")

    refund_cancel(refund=refund, actor=Actor.system("seller"))
    second.refresh_from_db()
    assert second.review_status == "open"
    reopened = second.events.get(type="payment.review_reopened")
    assert (reopened.data["refund"], reopened.data["refund_status"]) == (str(refund.pk), "cancelled")

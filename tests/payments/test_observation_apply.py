"""observation_apply: the one place facts become transitions."""
from datetime import timedelta

import pytest
from django.utils import timezone

from orders.actors import Actor
from orders.models import Order
from payments.models import LedgerEntry, NanoCursor, Payment, PaymentEvent, Receipt
from payments.money import RAW_PER_MICRO_XNO
from payments.providers.base import Observation
from payments.services import observation_apply, payment_accept_late, payment_expire_stale, receipt_assign
from tests.factories import GatewayPaymentFactory, PaymentFactory, nano_address
from tests.services_patch import use_provider

pytestmark = pytest.mark.django_db

SHOPPER = nano_address("shopper")


def send(payment, amount_micro=None, tx="A" * 64, confirmed=True, pay_to=None, payment_ref=""):
    amount = (payment.amount_due if amount_micro is None else amount_micro) * RAW_PER_MICRO_XNO
    return observation_apply(observation=Observation(
        provider="nano", external_tx_id=tx, amount=amount, confirmed=confirmed, source_account=SHOPPER,
        pay_to=payment.pay_to if pay_to is None else pay_to, payment_ref=payment_ref))


def test_exact_payment_completes_order_and_writes_ledger():
    payment = PaymentFactory()
    result = send(payment)
    payment.refresh_from_db()
    assert result.changed and payment.status == "completed" and payment.exceptions == []
    assert payment.order.status == "paid" and payment.order.paid_at
    entry = LedgerEntry.objects.get(payment=payment)
    assert entry.gross == payment.amount == entry.fee + entry.net
    assert entry.custody == "seller"  # Nano is non-custodial


def test_same_fact_twice_changes_state_once():
    payment = PaymentFactory()
    first, second = send(payment), send(payment)
    assert first.changed and not second.changed
    assert PaymentEvent.objects.filter(payment=payment, type="payment.completed").count() == 1
    assert LedgerEntry.objects.filter(payment=payment).count() == 1
    assert Receipt.objects.count() == 1


def test_unconfirmed_then_confirmed():
    payment = PaymentFactory()
    send(payment, confirmed=False)
    payment.refresh_from_db()
    assert payment.status == "confirming"
    send(payment, confirmed=False)  # same unconfirmed fact again: nothing new
    assert PaymentEvent.objects.filter(payment=payment, type="payment.confirming").count() == 1
    send(payment, confirmed=True)
    payment.refresh_from_db()
    assert payment.status == "completed"


def test_underpay_stays_pending_then_top_up_completes():
    payment = PaymentFactory(amount_due=1_000_000)
    send(payment, amount_micro=400_000, tx="1" * 64, payment_ref=str(payment.pk))  # verified as this payment's
    payment.refresh_from_db()
    assert payment.status == "pending"
    assert payment.amount_received == str(400_000 * RAW_PER_MICRO_XNO)
    send(payment, amount_micro=600_000, tx="2" * 64)  # the top-up: exactly what is left
    payment.refresh_from_db()
    assert payment.status == "completed" and payment.exceptions == []


def test_overpay_completes_with_exception():
    payment = PaymentFactory(amount_due=1_000_000)
    observation_apply(observation=Observation(provider="nano", external_tx_id="3" * 64,
                                              amount=2_000_000 * RAW_PER_MICRO_XNO, confirmed=True,
                                              payment_ref=str(payment.pk)))
    payment.refresh_from_db()
    assert payment.status == "completed" and "overpaid" in payment.exceptions
    assert payment.review_status == "open"


def test_ambiguous_partial_send_is_not_guessed():
    first = PaymentFactory(amount_due=1_000_000)
    PaymentFactory(order__seller=first.seller, amount_due=1_000_001)
    result = send(first, amount_micro=500)
    assert result.payment is None, "two payments on the address could take it: staff decide"


def test_unmatched_money_becomes_receipt_for_review():
    payment = PaymentFactory()
    PaymentFactory(order__seller=payment.seller)
    result = send(payment, amount_micro=payment.amount_due + 777)
    assert result.payment is None
    receipt = Receipt.objects.get()
    assert receipt.payment is None and receipt.resolution == ""
    payment.refresh_from_db()
    assert payment.status == "pending"


def test_the_only_active_payment_does_not_take_a_strangers_overpayment():
    payment = PaymentFactory()
    assert send(payment, amount_micro=payment.amount_due + 777).payment is None
    payment.refresh_from_db()
    assert payment.status == "pending"


def test_staff_assigns_unmatched_receipt():
    payment = PaymentFactory()
    PaymentFactory(order__seller=payment.seller)
    send(payment, amount_micro=payment.amount_due + 1000, tx="9" * 64)
    receipt = Receipt.objects.get()
    # The amount differs from what is due, so assigning it completes as overpaid.
    result = receipt_assign(receipt=receipt, payment=payment, actor=Actor.system("test"))
    payment.refresh_from_db()
    assert result.changed and payment.status == "completed" and "overpaid" in payment.exceptions
    assert receipt_assign(receipt=receipt, payment=payment, actor=Actor.system("test")).changed is False


def test_late_money_on_expired_payment_is_flagged_not_lost():
    payment = PaymentFactory(expires_at=timezone.now() - timedelta(hours=1))
    assert payment_expire_stale() == 1
    payment.refresh_from_db()
    assert payment.status == "expired" and payment.order.status == "expired"
    assert payment.amount_reserved, "the reservation outlives expiry for the monitoring window"
    send(payment)
    payment.refresh_from_db()
    assert payment.status == "expired" and "paid_late" in payment.exceptions
    assert payment.review_status == "open"
    accepted = payment_accept_late(payment=payment, actor=Actor.system("staff"))
    assert accepted.status == "completed" and accepted.review_status == "resolved"
    assert Order.objects.get(pk=payment.order_id).status == "paid"
    assert LedgerEntry.objects.filter(payment=payment).count() == 1
    # A second click changes nothing.
    assert payment_accept_late(payment=payment, actor=Actor.system("staff")).status == "completed"
    assert LedgerEntry.objects.filter(payment=payment).count() == 1


def test_second_payment_on_paid_order_is_duplicate():
    first = PaymentFactory()
    second = PaymentFactory(order=first.order, amount_due=first.amount_due + 1)
    send(first, tx="4" * 64)
    send(second, tx="5" * 64)
    second.refresh_from_db()
    assert second.status == "completed" and "duplicate" in second.exceptions
    assert second.review_status == "open"


def _rzp_entity(pay_id: str, status: str, amount: int = 49900, order_id: str = "order_X") -> dict:
    return {"id": pay_id, "status": status, "amount": amount, "currency": "INR", "order_id": order_id,
            "error_description": "Card declined" if status == "failed" else None}


def test_failed_card_attempt_is_recorded_and_the_payment_stays_open_for_the_next():
    """Razorpay orders take further attempts: one declined card fails the attempt, not the payment."""
    from payments.providers.razorpay import RazorpayProvider

    provider = RazorpayProvider()
    payment = GatewayPaymentFactory(amount_due=49900, provider_ref="order_X")
    failed = observation_apply(observation=provider.observation_from_entity(_rzp_entity("pay_1", "failed")))
    payment.refresh_from_db()
    assert failed.changed and payment.status == "pending" and payment.exceptions == []
    receipt = Receipt.objects.get(external_tx_id="pay_1")
    assert (receipt.state, receipt.payment_id) == ("failed", payment.pk)
    event = PaymentEvent.objects.get(payment=payment, type="payment.attempt_failed")
    assert event.data["tx"] == "pay_1" and event.data["reason"] == "Card declined"
    assert Order.objects.get(pk=payment.order_id).status == "open"

    again = observation_apply(observation=provider.observation_from_entity(_rzp_entity("pay_1", "failed")))
    assert not again.changed  # the same failed attempt twice is one event

    observation_apply(observation=provider.observation_from_entity(_rzp_entity("pay_2", "captured")))
    payment.refresh_from_db()
    assert payment.status == "completed" and payment.tx_id == "pay_2"
    assert payment.exceptions == [] and payment.review_status != "open"
    assert Order.objects.get(pk=payment.order_id).status == "paid"
    assert LedgerEntry.objects.get(payment=payment).gross == 49900
    assert PaymentEvent.objects.filter(payment=payment, type="payment.attempt_failed").count() == 1


def test_failed_attempt_after_expiry_is_recorded_without_flagging():
    payment = GatewayPaymentFactory(amount_due=49900, provider_ref="order_X", status="expired")
    from payments.providers.razorpay import RazorpayProvider

    observation_apply(observation=RazorpayProvider().observation_from_entity(_rzp_entity("pay_1", "failed")))
    payment.refresh_from_db()
    assert payment.status == "expired" and payment.exceptions == []
    assert PaymentEvent.objects.filter(payment=payment, type="payment.attempt_failed").exists()


def test_coinpay_failure_fails_payment():
    """A CoinPay transaction is the payment itself (no further attempts): its failure is final."""
    payment = GatewayPaymentFactory(method="coinpay", amount_due=5000, provider_ref="tx_X")
    observation_apply(observation=Observation(provider="coinpay", external_tx_id="tx_X", failed=True,
                                              provider_ref="tx_X", failure_reason="expired"))
    payment.refresh_from_db()
    assert payment.status == "failed"


def test_captured_before_authorized_ends_completed():
    payment = PaymentFactory(method="razorpay", pay_currency="INR", amount_due=49900, pay_to="",
                             amount_reserved=False, provider_ref="order_Y")
    observation_apply(observation=Observation(provider="razorpay", external_tx_id="pay_2", amount=49900,
                                              confirmed=True, provider_ref="order_Y"))
    late_authorized = observation_apply(observation=Observation(provider="razorpay", external_tx_id="pay_2",
                                                                amount=49900, provider_ref="order_Y"))
    payment.refresh_from_db()
    assert payment.status == "completed" and not late_authorized.changed


def test_expiry_skips_confirming_and_future_payments():
    stale = PaymentFactory(expires_at=timezone.now() - timedelta(hours=1))
    confirming = PaymentFactory(expires_at=timezone.now() - timedelta(hours=1), status="confirming")
    fresh = PaymentFactory()
    assert payment_expire_stale() == 1
    assert payment_expire_stale() == 0, "a second tick finds nothing"
    statuses = dict(Payment.objects.values_list("pk", "status"))
    assert statuses[stale.pk] == "expired"
    assert statuses[confirming.pk] == "confirming"
    assert statuses[fresh.pk] == "pending"
    assert PaymentEvent.objects.filter(payment=stale, type="payment.expired").count() == 1


def test_order_with_another_active_payment_does_not_expire():
    stale = PaymentFactory(expires_at=timezone.now() - timedelta(hours=1))
    PaymentFactory(order=stale.order, method="razorpay", pay_currency="INR", amount_due=49900, pay_to="",
                   amount_reserved=False)
    payment_expire_stale()
    assert Order.objects.get(pk=stale.order_id).status == "open"


def test_underpaid_payment_expires_with_exception():
    payment = PaymentFactory(amount_due=1_000_000)
    send(payment, amount_micro=10, tx="6" * 64, payment_ref=str(payment.pk))  # a verified partial
    Payment.objects.filter(pk=payment.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    payment_expire_stale()
    payment.refresh_from_db()
    assert payment.status == "expired" and "underpaid" in payment.exceptions and payment.review_status == "open"


def read_by_the_monitor(*addresses, at):
    """A monitor scan that began at `at` read these addresses (a slot is released only after one)."""
    for address in addresses:
        NanoCursor.objects.update_or_create(address=address, defaults={"checked_at": at})


def test_release_reservations_after_window():
    from payments.services import payment_release_reservations

    payment = PaymentFactory(status="expired", reserved_until=timezone.now() - timedelta(minutes=1))
    active = PaymentFactory(reserved_until=timezone.now() - timedelta(minutes=1))
    read_by_the_monitor(payment.pay_to, active.pay_to, at=timezone.now())
    assert payment_release_reservations() == 1
    payment.refresh_from_db()
    active.refresh_from_db()
    assert not payment.amount_reserved and active.amount_reserved


def test_late_money_can_be_sent_back_instead_of_accepted(monkeypatch):
    """A paid_late payment refunded by staff keeps its status, writes no ledger entry, and a
    later refund webhook for the same refund changes nothing."""
    from payments.models import Refund
    from payments.providers.base import RefundResult
    from payments.providers.nano import RefundAnchor
    from payments.services import payment_refund, refund_mark_succeeded

    class Pending:
        def refund(self, payment, amount_minor, **kwargs):
            return RefundResult(provider_refund_id="rfnd_late_1", status="pending")

        def refund_anchor(self, payment, shopper_account=""):  # Nano: the seller sends it back
            return RefundAnchor(payment.pay_to, nano_address("late-shopper"), 0)

    use_provider(monkeypatch, lambda method: Pending())
    payment = PaymentFactory(expires_at=timezone.now() - timedelta(hours=1))
    payment_expire_stale()
    send(payment)
    payment.refresh_from_db()
    with pytest.raises(Exception, match="refunded in full"):
        payment_refund(payment=payment, actor=Actor.system("staff"), amount_minor=1)
    refund = payment_refund(payment=payment, actor=Actor.system("staff"))
    assert refund.status == "awaiting_seller"
    refund_mark_succeeded(refund=refund, actor=Actor.provider("nano"), provider_refund_id="rfnd_late_1")
    refund_mark_succeeded(refund=refund, actor=Actor.provider("nano"))  # the webhook, again
    payment.refresh_from_db()
    assert payment.status == "expired" and payment.review_status == "resolved"
    assert payment.refunded_amount == payment.amount
    assert not LedgerEntry.objects.filter(payment=payment).exists()
    assert Refund.objects.get(pk=refund.pk).status == "succeeded"
    assert Order.objects.get(pk=payment.order_id).status == "expired"
    with pytest.raises(Exception, match="completed payment"):
        payment_refund(payment=payment, actor=Actor.system("staff"))


def test_an_unpaid_expired_slot_is_released_after_the_release_window(settings):
    """An expired payment that saw no money gives its amount slot back after NANO_SLOT_RELEASE_AFTER,
    long before the monitoring window ends; money that arrives later is an unmatched receipt in review."""
    from payments.services import payment_release_reservations

    settings.NANO_SLOT_RELEASE_AFTER = 2 * 3600
    settings.PAYMENT_MONITORING_HOURS = 24
    unpaid = PaymentFactory(expires_at=timezone.now() - timedelta(hours=1))
    underpaid = PaymentFactory(expires_at=timezone.now() - timedelta(hours=1))  # another seller's address
    partial = send(underpaid, amount_micro=1, tx="B" * 64)  # a partial is unmatched until staff assign it
    receipt_assign(receipt=partial.receipt, payment=underpaid, actor=Actor.system("staff"))
    payment_expire_stale()

    later = timezone.now() + timedelta(hours=2, minutes=5)
    read_by_the_monitor(unpaid.pay_to, underpaid.pay_to, at=later)
    payment_release_reservations(now=later)
    unpaid.refresh_from_db()
    underpaid.refresh_from_db()
    assert unpaid.status == "expired" and not unpaid.amount_reserved
    assert underpaid.amount_reserved  # money was seen: it keeps the whole monitoring window

    result = send(unpaid, tx="C" * 64)
    unpaid.refresh_from_db()
    assert unpaid.status == "expired" and unpaid.amount_received in ("", "0")
    receipt = Receipt.objects.get(external_tx_id="C" * 64)
    assert receipt.payment_id is None and result.receipt.pk == receipt.pk  # unmatched: in review, not lost


def test_a_cancelled_unpaid_payment_releases_its_slot_early(settings):
    from payments.services import payment_cancel, payment_release_reservations

    settings.NANO_SLOT_RELEASE_AFTER = 2 * 3600
    payment = PaymentFactory()
    payment_cancel(payment=payment, actor=Actor.system("test"))
    read_by_the_monitor(payment.pay_to, at=timezone.now() + timedelta(hours=2, minutes=5))
    payment_release_reservations(now=timezone.now() + timedelta(hours=2, minutes=5))
    payment.refresh_from_db()
    assert payment.status == "cancelled" and not payment.amount_reserved

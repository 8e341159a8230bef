"""Every staff action: allowed and denied, its effect, the event and LogEntry it writes,
and a second click that changes nothing and says "already"."""
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from payments.models import InboundWebhook, Payment, PaymentEvent, Receipt
from payments.providers.base import Observation
from sellers.models import Seller
from tests.factories import GatewayPaymentFactory, PaymentFactory, ReceiptFactory, SellerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(groups):
    """Staff who may look at payments but run no action."""
    user = get_user_model().objects.create_user("viewer", "v@example.com", "correct-horse-battery", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=[
        "view_payment", "view_receipt", "view_inboundwebhook", "view_seller"]))
    return user


@dataclass
class Case:
    code: str
    target: Callable          # (request, fake_provider) -> object
    allowed: str              # user fixture
    denied: str
    effect: Callable          # (obj) -> bool, after a refresh
    event: str | None = None  # PaymentEvent type written with the staff user


def _pending_gateway(request, fake):
    payment = GatewayPaymentFactory()
    fake.observations.append(Observation(provider="razorpay", external_tx_id="pay_recheck1", amount=payment.amount_due,
                                         confirmed=True, payment_ref=str(payment.pk)))
    return payment


def _failed_settlement():
    from payments.models import Settlement

    return Settlement.objects.create(seller=SellerFactory(), method="coinpay", kind="payout", currency="INR",
                                     amount=1000, status="failed", failure_reason="destination rejected")


def _disabled_endpoint():
    from django.utils import timezone

    from webhooks.models import WebhookEndpoint

    now = timezone.now()
    return WebhookEndpoint.objects.create(seller=SellerFactory(), url="https://example.com/hook", secret="whsec_x",
                                          is_active=False, disabled_at=now, failing_since=now,
                                          disabled_reason="Every delivery failed for 3 days.")


CASES = [
    Case("recheck", _pending_gateway, "support", "viewer", lambda p: p.status == "completed", "payment.rechecked"),
    Case("expire", lambda r, f: PaymentFactory(), "finance", "support", lambda p: p.status == "expired",
         "payment.expired"),
    Case("refund", lambda r, f: r.getfixturevalue("completed_gateway_payment"), "finance", "support",
         lambda p: p.status == "refunded" and p.refunded_amount == p.amount, "refund.requested"),
    Case("accept_late", lambda r, f: r.getfixturevalue("late_payment"), "finance", "support",
         lambda p: p.status == "completed" and p.order.status == "paid" and p.review_status == "resolved",
         "payment.completed"),
    Case("refund_late", lambda r, f: r.getfixturevalue("late_payment"), "finance", "support",
         # Nano: the refund waits for the seller's send; the review resolves when the node shows it.
         lambda p: p.status == "expired" and p.refunds.filter(status="awaiting_seller").exists()
         and p.refunded_amount == 0 and not p.ledger_entries.exists() and p.order.status == "expired",
         "refund.requested"),
    Case("refund_duplicate", lambda r, f: r.getfixturevalue("duplicate_payment"), "finance", "support",
         lambda p: p.status == "refunded" and p.review_status == "resolved", "payment.review_resolved"),
    Case("resolve", lambda r, f: r.getfixturevalue("late_payment"), "finance", "support",
         lambda p: p.review_status == "resolved", "payment.review_resolved"),
    Case("ignore_receipt", lambda r, f: ReceiptFactory(pay_to="nano_x"), "finance", "support",
         lambda rc: rc.resolution == "ignored" and rc.resolved_by is not None),
    Case("dismiss_webhook", lambda r, f: InboundWebhook.objects.create(
        provider="razorpay", event_id="evt_bad", body="{}", status="invalid"), "support", "viewer",
         lambda w: w.reviewed_at is not None),
    Case("retry_settlement", lambda r, f: _failed_settlement(), "finance", "support",
         lambda s: s.reviewed_at is not None and s.reviewed_by is not None),
    Case("dismiss_settlement", lambda r, f: _failed_settlement(), "finance", "support",
         lambda s: s.reviewed_at is not None),
    Case("enable_endpoint", lambda r, f: _disabled_endpoint(), "support", "viewer",
         lambda e: e.is_active and e.disabled_at is None and e.failing_since is None),
    Case("suspend_seller", lambda r, f: SellerFactory(), "admin_user", "finance", lambda s: s.status == "suspended"),
    Case("approve_seller", lambda r, f: SellerFactory(status="pending"), "admin_user", "finance",
         lambda s: s.status == "active"),
]
IDS = [case.code for case in CASES]


def changelist(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_changelist")


def post_action(client, obj, code):
    """The action as confirmed (tests/staff/test_confirmation.py covers the question itself)."""
    return client.post(changelist(obj), {"action": code, ACTION_CHECKBOX_NAME: [obj.pk], "index": 0,
                                         "confirmed": "yes"})


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def staff_events(obj, user):
    if not isinstance(obj, Payment):
        return []
    return list(PaymentEvent.objects.filter(payment=obj, actor_user=user, actor_type="staff"))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_allowed_action_has_effect_records_event_and_is_idempotent(case, request, client, fake_provider):
    obj = case.target(request, fake_provider)
    user = request.getfixturevalue(case.allowed)
    client.force_login(user)

    first = post_action(client, obj, case.code)
    assert first.status_code == 302, texts(first)
    obj.refresh_from_db()
    assert case.effect(obj), texts(first)
    if case.event:
        assert case.event in [e.type for e in staff_events(obj, user)]
    log = LogEntry.objects.filter(user=user, object_id=str(obj.pk), action_flag=CHANGE)
    assert log.count() == 1

    events_before = PaymentEvent.objects.filter(payment=obj).count() if isinstance(obj, Payment) else 0
    second = post_action(client, obj, case.code)
    assert "already" in texts(second)[-1], texts(second)
    assert log.count() == 1
    if isinstance(obj, Payment) and case.code != "recheck":  # a re-check records each look, changes nothing
        assert PaymentEvent.objects.filter(payment=obj).count() == events_before
    obj.refresh_from_db()
    assert case.effect(obj)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_denied_action_is_hidden_and_changes_nothing(case, request, client, fake_provider):
    obj = case.target(request, fake_provider)
    user = request.getfixturevalue(case.denied)
    client.force_login(user)
    page = client.get(changelist(obj))
    if page.status_code == 200:
        assert f'value="{case.code}"' not in page.content.decode()
    response = post_action(client, obj, case.code)
    assert response.status_code in (200, 302, 403)
    obj.refresh_from_db()
    assert not case.effect(obj)
    assert not LogEntry.objects.filter(user=user).exists()
    assert staff_events(obj, user) == []


REVIEW_KINDS = {Payment: "payment", Receipt: "receipt", InboundWebhook: "webhook", Seller: "seller"}
REVIEW_CASES = [case for case in CASES if case.code in
                ("accept_late", "refund_duplicate", "resolve", "ignore_receipt", "dismiss_webhook")]


@pytest.mark.parametrize("case", REVIEW_CASES, ids=[c.code for c in REVIEW_CASES])
def test_review_queue_one_click(case, request, client, fake_provider):
    obj = case.target(request, fake_provider)
    data = {"kind": REVIEW_KINDS[type(obj)], "pk": obj.pk, "action": case.code, "confirmed": "yes"}

    client.force_login(request.getfixturevalue(case.denied))
    assert client.post(reverse("staff-review-act"), data).status_code == 403
    obj.refresh_from_db()
    assert not case.effect(obj)

    user = request.getfixturevalue(case.allowed)
    client.force_login(user)
    response = client.post(reverse("staff-review-act"), data)
    assert response.status_code == 302 and response["Location"] == reverse("staff-review")
    obj.refresh_from_db()
    assert case.effect(obj)
    again = client.post(reverse("staff-review-act"), data)
    assert "already" in texts(again)[-1]
    assert LogEntry.objects.filter(user=user, object_id=str(obj.pk)).count() == 1


def test_review_act_rejects_mismatched_action(client, finance, late_payment):
    client.force_login(finance)
    response = client.post(reverse("staff-review-act"), {"kind": "receipt", "pk": late_payment.pk,
                                                         "action": "accept_late"})
    assert response.status_code == 302
    late_payment.refresh_from_db()
    assert late_payment.status == "expired"


@pytest.mark.parametrize("kind, action", [("payment", "resolve"), ("receipt", "ignore_receipt"),
                                          ("webhook", "dismiss_webhook"), ("settlement", "retry_settlement")])
@pytest.mark.parametrize("pk", ["abc", "", "1.5", "a\x00b", "9" * 30])
def test_review_act_with_a_malformed_id_is_a_404(client, finance, kind, action, pk):
    """A pk that is no UUID (payments) or no integer (the rest) was a ValidationError or ValueError: a 500."""
    client.force_login(finance)
    response = client.post(reverse("staff-review-act"), {"kind": kind, "pk": pk, "action": action})
    assert response.status_code == 404


def test_review_act_is_post_only_and_needs_staff(client, seller_user, late_payment):
    client.force_login(seller_user)  # a seller is not staff: sent to the admin login
    response = client.post(reverse("staff-review-act"), {"kind": "payment", "pk": late_payment.pk,
                                                         "action": "accept_late"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    late_payment.refresh_from_db()
    assert late_payment.status == "expired"


def test_accept_late_records_staff_on_order_and_payment(client, finance, late_payment, fake_provider):
    client.force_login(finance)
    post_action(client, late_payment, "accept_late")
    late_payment.refresh_from_db()
    event = late_payment.events.get(type="payment.completed")
    assert event.actor_user == finance and event.from_status == "expired"
    assert late_payment.order.events.filter(to_status="paid", actor_user=finance).exists()


def test_refund_of_non_completed_payment_is_refused(client, finance, fake_provider):
    payment = PaymentFactory()
    client.force_login(finance)
    response = post_action(client, payment, "refund")
    assert any("only a completed payment" in text for text in texts(response))
    assert fake_provider.refunds == []


def test_recheck_with_provider_down_changes_nothing(client, support, monkeypatch):
    payment = GatewayPaymentFactory()

    class Down:
        def poll(self, payments):
            from payments.providers.errors import ProviderUnavailable
            raise ProviderUnavailable("timeout")

    monkeypatch.setattr("payments.staff.services.get_provider", lambda method: Down())
    client.force_login(support)
    response = post_action(client, payment, "recheck")
    payment.refresh_from_db()
    assert payment.status == "pending"
    assert any("unavailable" in text for text in texts(response))
    assert payment.events.get(type="payment.rechecked").data["result"] == "unavailable"


def test_recheck_polls_only_the_selected_payments(client, support, fake_provider):
    chosen, other = GatewayPaymentFactory(), GatewayPaymentFactory()
    client.force_login(support)
    post_action(client, chosen, "recheck")
    assert fake_provider.polled == [[chosen.pk]]
    assert not other.events.filter(type="payment.rechecked").exists()


def test_expire_now_refuses_confirming(client, finance):
    from tests.staff.conftest import nano_send

    payment = PaymentFactory()
    nano_send(payment, confirmed=False)
    client.force_login(finance)
    response = post_action(client, payment, "expire")
    payment.refresh_from_db()
    assert payment.status == "confirming"
    assert any("cannot be expired" in text for text in texts(response))


def test_suspended_seller_checkout_refuses_new_payments(client, admin_user):
    from payments.services import PaymentStateError, check_method_available
    from tests.factories import OrderFactory

    seller = SellerFactory()
    client.force_login(admin_user)
    post_action(client, seller, "suspend_seller")
    seller.refresh_from_db()
    assert seller.status == "suspended"
    order = OrderFactory(seller=seller)
    with pytest.raises(PaymentStateError, match="not accepting payments"):
        check_method_available(order=order, method="nano")

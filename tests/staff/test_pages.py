"""/admin/ index, /admin/routing/, /admin/review/, receipt assignment, and the changelists:
content, permissions and constant query counts."""
import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from orders.actors import Actor
from payments.models import InboundWebhook, LedgerEntry, PaymentEvent, Settlement, SettlementItem
from payments.money import RAW_PER_MICRO_XNO
from payments.providers.base import RefundResult
from payments.selectors_staff import ledger_balances, review_count
from payments.services import payment_accept_late, refund_mark_failed
from payments.staff.services import payment_refund_duplicate
from sellers.models import PayoutDestination
from tests.factories import GatewayPaymentFactory, PaymentFactory, ReceiptFactory, SellerFactory, nano_address
from tests.services_patch import use_provider
from tests.staff.conftest import gateway_capture
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db


def test_index_links_staff_pages_and_shows_review_count(client, support, late_payment):
    ReceiptFactory(pay_to="x")
    client.force_login(support)
    response = client.get(reverse("admin:index"))
    html = response.content.decode()
    assert response.status_code == 200 and response.context["review_count"] == 2 == review_count()
    for name in ("staff-review", "staff-analytics", "staff-routing"):
        assert reverse(name) in html
    assert "Recent actions" in html  # still Django's dashboard


def test_review_queue_lists_everything_oldest_first(client, finance, late_payment, duplicate_payment):
    receipt = ReceiptFactory(pay_to="nano_unmatched")
    hook = InboundWebhook.objects.create(provider="coinpay", event_id="e1", body="{}", status="invalid")
    seller = SellerFactory()
    Settlement.objects.create(seller=seller, method="razorpay", kind="transfer", currency="INR", amount=5,
                              status="failed", failure_reason="linked account suspended")
    WebhookEndpoint.objects.create(seller=seller, url="https://x.example/h", secret="whsec_x", is_active=False,
                                   disabled_at=late_payment.created_at, disabled_reason="8 failures")
    client.force_login(finance)
    response = client.get(reverse("staff-review"))
    items = response.context["items"]
    assert [item.kind for item in items].count("payment") == 2
    assert {item.kind for item in items} == {"payment", "receipt", "webhook", "settlement", "endpoint"}
    assert [item.at for item in items] == sorted(item.at for item in items)
    html = response.content.decode()
    assert 'value="accept_late"' in html and 'value="refund_duplicate"' in html and 'value="ignore_receipt"' in html
    assert reverse("staff-receipt-assign", args=[receipt.pk]) in html
    assert hook.event_id in html and "linked account suspended" in html


def test_a_duplicate_whose_refund_failed_is_back_in_the_queue_saying_why(client, finance, duplicate_payment,
                                                                          monkeypatch):
    class AcceptsThenFails:
        def refund(self, payment, amount_minor, **kwargs):
            return RefundResult(provider_refund_id="rfnd_later", status="pending")

    use_provider(monkeypatch, lambda method: AcceptsThenFails())
    refund = payment_refund_duplicate(payment=duplicate_payment, actor=Actor.system("staff"))
    client.force_login(finance)
    assert not [i for i in client.get(reverse("staff-review")).context["items"] if i.kind == "payment"]
    refund_mark_failed(refund=refund, actor=Actor.system("razorpay"), reason="beneficiary account closed")
    response = client.get(reverse("staff-review"))
    [item] = [i for i in response.context["items"] if i.kind == "payment"]
    assert item.obj.pk == duplicate_payment.pk and item.codes == ["duplicate"]
    assert item.detail.endswith("· its refund failed: beneficiary account closed")
    html = response.content.decode()
    assert "its refund failed: beneficiary account closed" in html and 'value="refund_duplicate"' in html


def test_review_queue_hides_actions_support_may_not_run(client, support, late_payment):
    client.force_login(support)
    html = client.get(reverse("staff-review")).content.decode()
    assert 'value="accept_late"' not in html and 'value="recheck"' in html


def test_review_queue_query_count_is_constant(client, finance, django_assert_max_num_queries):
    client.force_login(finance)
    ReceiptFactory(pay_to="a")
    with django_assert_max_num_queries(30) as few:
        client.get(reverse("staff-review"))
    for _ in range(8):
        ReceiptFactory(pay_to="b")
        InboundWebhook.objects.create(provider="coinpay", event_id=str(_), body="{}", status="invalid")
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("staff-review"))


def test_routing_balances_flags_and_drill_down(client, finance, completed_gateway_payment, late_payment):
    seller = completed_gateway_payment.seller
    seller.enabled_methods = ["nano", "razorpay", "coinpay"]
    seller.save()
    PayoutDestination.objects.create(seller=seller, method="nano", value=nano_address("ok"))
    PayoutDestination.objects.create(seller=seller, method="razorpay", value="not-an-account")
    client.force_login(finance)
    response = client.get(reverse("staff-routing"))
    assert response.status_code == 200
    row = next(r for r in response.context["rows"] if r.seller == seller)
    assert {m.method: m.problem for m in row.methods} == {"nano": "", "razorpay": "invalid", "coinpay": "missing"}
    entry = LedgerEntry.objects.get(payment=completed_gateway_payment)
    assert row.balances["INR"]["owed"] == entry.net
    figure = next(f for f in row.balance_rows[0]["figures"] if f["key"] == "owed")
    drill = client.get(figure["url"])
    assert drill.status_code == 200
    assert list(drill.context["cl"].result_list) == [entry]


def test_accepting_late_nano_payment_raises_fee_receivable(late_payment):
    before = ledger_balances().get(late_payment.seller_id, {}).get("INR", {}).get("fee_receivable", 0)
    payment_accept_late(payment=late_payment, actor=Actor.system("test"))
    after = ledger_balances()[late_payment.seller_id]["INR"]["fee_receivable"]
    assert after - before == LedgerEntry.objects.get(payment=late_payment).fee > 0


def test_settled_entries_move_from_owed_to_in_flight_to_paid(completed_gateway_payment):
    entry = LedgerEntry.objects.get(payment=completed_gateway_payment)
    settlement = Settlement.objects.create(seller=entry.seller, method="razorpay", kind="transfer",
                                           currency="INR", amount=entry.net, status="in_flight")
    SettlementItem.objects.create(settlement=settlement, entry=entry)
    assert ledger_balances()[entry.seller_id]["INR"] == {"owed": 0, "in_flight": entry.net, "paid_out": 0,
                                                         "fee_receivable": 0}
    Settlement.objects.filter(pk=settlement.pk).update(status="paid")
    assert ledger_balances()[entry.seller_id]["INR"]["paid_out"] == entry.net
    Settlement.objects.filter(pk=settlement.pk).update(status="failed")
    assert ledger_balances()[entry.seller_id]["INR"]["owed"] == entry.net


def test_ledger_changelist_shows_the_covering_settlement_and_a_settlement_lists_its_entries(
        client, finance, completed_gateway_payment):
    from django.utils import timezone

    entry = LedgerEntry.objects.get(payment=completed_gateway_payment)

    def transfer(status):
        return Settlement.objects.create(seller=entry.seller, method="razorpay", kind="transfer", currency="INR",
                                         amount=entry.net, status=status)

    failed, live = transfer("failed"), transfer("in_flight")
    SettlementItem.objects.create(settlement=failed, entry=entry, released_at=timezone.now())
    SettlementItem.objects.create(settlement=live, entry=entry)
    client.force_login(finance)
    ledger_url = reverse("admin:payments_ledgerentry_changelist")
    assert f">#{live.pk} in flight</a>" in client.get(ledger_url).content.decode()
    settlements = client.get(reverse("admin:payments_settlement_changelist")).content.decode()
    for settlement in (failed, live):   # a failed one still shows what it covered
        link = f"{ledger_url}?settlement_items__settlement__id__exact={settlement.pk}"
        assert link in settlements
        assert list(client.get(link).context["cl"].result_list) == [entry]
    assert list(client.get(ledger_url, {"settled": "in_flight"}).context["cl"].result_list) == [entry]
    assert not client.get(ledger_url, {"settled": "open"}).context["cl"].result_list


def test_routing_query_count_is_constant(client, finance, django_assert_max_num_queries):
    client.force_login(finance)
    for _ in range(2):
        gateway_capture(GatewayPaymentFactory())
    with django_assert_max_num_queries(20) as few:
        client.get(reverse("staff-routing"))
    for _ in range(6):
        gateway_capture(GatewayPaymentFactory())
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("staff-routing"))


def test_receipt_assign_form_applies_money_and_records_staff(client, finance):
    payment = PaymentFactory()
    other_address = PaymentFactory()
    receipt = ReceiptFactory(pay_to=payment.pay_to, amount=str(payment.amount_due * RAW_PER_MICRO_XNO),
                             state="confirmed")
    client.force_login(finance)
    page = client.get(reverse("staff-receipt-assign", args=[receipt.pk]))
    choices = list(page.context["form"].fields["payment"].queryset)
    assert payment in choices and other_address not in choices
    response = client.post(reverse("staff-receipt-assign", args=[receipt.pk]),
                           {"payment": payment.pk, "confirmed": "yes"})
    assert response.status_code == 302
    payment.refresh_from_db()
    receipt.refresh_from_db()
    assert payment.status == "completed" and receipt.resolution == "assigned" and receipt.resolved_by == finance
    assert PaymentEvent.objects.filter(payment=payment, type="payment.receipt_assigned", actor_user=finance).exists()
    assert LogEntry.objects.filter(user=finance, object_id=str(receipt.pk)).count() == 1
    client.post(reverse("staff-receipt-assign", args=[receipt.pk]),
                {"payment": payment.pk, "confirmed": "yes"})  # twice: no change
    assert PaymentEvent.objects.filter(payment=payment, type="payment.completed").count() == 1
    assert LogEntry.objects.filter(user=finance, object_id=str(receipt.pk)).count() == 1


def test_receipt_assign_refuses_other_address_and_support(client, finance, support):
    payment = PaymentFactory()
    receipt = ReceiptFactory(pay_to="nano_elsewhere", amount="1")
    client.force_login(support)
    assert client.get(reverse("staff-receipt-assign", args=[receipt.pk])).status_code == 403
    client.force_login(finance)
    response = client.post(reverse("staff-receipt-assign", args=[receipt.pk]), {"payment": payment.pk})
    assert response.status_code == 200 and response.context["form"].errors
    receipt.refresh_from_db()
    assert receipt.payment_id is None


def test_receipt_admin_action_redirects_to_assign_page(client, finance):
    receipt = ReceiptFactory(pay_to="x")
    client.force_login(finance)
    response = client.post(reverse("admin:payments_receipt_changelist"),
                           {"action": "assign_to_payment", "_selected_action": [receipt.pk], "index": 0})
    assert response["Location"] == reverse("staff-receipt-assign", args=[receipt.pk])


@pytest.mark.parametrize("url_name", ["admin:payments_payment_changelist", "admin:orders_order_changelist",
                                      "admin:sellers_seller_changelist", "admin:payments_ledgerentry_changelist",
                                      "admin:payments_receipt_changelist", "admin:payments_inboundwebhook_changelist"])
def test_changelist_query_count_is_constant(url_name, client, admin_user, django_assert_max_num_queries):
    client.force_login(admin_user)
    gateway_capture(GatewayPaymentFactory())
    with django_assert_max_num_queries(30) as few:
        assert client.get(reverse(url_name)).status_code == 200
    for _ in range(8):
        gateway_capture(GatewayPaymentFactory())
        ReceiptFactory(pay_to="x")
        InboundWebhook.objects.create(provider="coinpay", event_id=str(_), body="{}", status="invalid")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse(url_name)).status_code == 200


def test_changelist_filters_and_search(client, support, late_payment, duplicate_payment):
    client.force_login(support)
    url = reverse("admin:payments_payment_changelist")
    assert list(client.get(url, {"exception": "paid_late"}).context["cl"].result_list) == [late_payment]
    assert list(client.get(url, {"exception": "duplicate"}).context["cl"].result_list) == [duplicate_payment]
    found = client.get(url, {"q": duplicate_payment.order.reference}).context["cl"].result_list
    assert duplicate_payment in found
    orders = client.get(reverse("admin:orders_order_changelist"), {"exception": "paid_late"}).context["cl"]
    assert list(orders.result_list) == [late_payment.order]


def test_seller_changelist_annotates_volume(client, admin_user, completed_gateway_payment):
    client.force_login(admin_user)
    response = client.get(reverse("admin:sellers_seller_changelist"))
    seller = next(s for s in response.context["cl"].result_list if s.pk == completed_gateway_payment.seller_id)
    assert seller.volume == completed_gateway_payment.amount and seller.orders_total == 1 and seller.orders_paid == 1


def test_analytics_with_an_unknown_currency_falls_back_with_a_message(client, finance):
    client.force_login(finance)
    response = client.get("/admin/analytics/?currency=ZZZ")
    assert response.status_code == 200
    assert any("not a currency Kassa knows" in str(m) for m in response.context["messages"])


def test_failed_settlement_and_disabled_endpoint_leave_the_queue_in_one_click(client, finance):
    seller = SellerFactory()
    failed = Settlement.objects.create(seller=seller, method="coinpay", kind="payout", currency="INR", amount=5,
                                       status="failed", failure_reason="wallet closed")
    endpoint = WebhookEndpoint.objects.create(seller=seller, url="https://x.example/h", secret="whsec_x",
                                              is_active=False, disabled_at=failed.created_at, disabled_reason="x")
    client.force_login(finance)
    html = client.get(reverse("staff-review")).content.decode()
    assert 'value="retry_settlement"' in html and 'value="dismiss_settlement"' in html
    assert 'value="enable_endpoint"' in html
    client.post(reverse("staff-review-act"), {"kind": "settlement", "pk": failed.pk, "action": "dismiss_settlement"})
    client.post(reverse("staff-review-act"), {"kind": "endpoint", "pk": endpoint.pk, "action": "enable_endpoint"})
    kinds = {item.kind for item in client.get(reverse("staff-review")).context["items"]}
    assert not kinds & {"settlement", "endpoint"}
    failed.refresh_from_db()
    endpoint.refresh_from_db()
    assert failed.reviewed_by == finance and endpoint.is_active

"""Staff in a real browser: log in, accept a late payment from the review queue, and see the
seller's Nano fee receivable grow on the routing page. Screenshots at 1280 and 375 px."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from orders.actors import Actor
from payments.models import LedgerEntry
from payments.services import payment_expire_now
from payments.staff.groups import staff_groups_sync
from sellers.models import PayoutDestination
from tests.conftest import screenshot
from tests.factories import PaymentFactory, SellerFactory, nano_address
from tests.staff.conftest import gateway_capture, nano_send
from tests.two_factor import confirmed_device, staff_browser_log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def scene(transactional_db):
    staff_groups_sync()
    user = get_user_model().objects.create_user("fin", "fin@example.com", "correct-horse-battery", is_staff=True)
    user.groups.add(Group.objects.get(name="Finance"))
    seller = SellerFactory(name="Lotus Prints", enabled_methods=["nano", "razorpay"])
    PayoutDestination.objects.create(seller=seller, method="nano", value=nano_address(f"{seller.slug}-payout"))
    from tests.factories import GatewayPaymentFactory, OrderFactory

    gateway_capture(GatewayPaymentFactory(order=OrderFactory(seller=seller)))
    late = PaymentFactory(order=OrderFactory(seller=seller, reference="LATE-1"))
    payment_expire_now(payment=late, actor=Actor.system("test"))
    nano_send(late)
    return {"user": user, "seller": seller, "late": late, "device": confirmed_device(user)}


def _shoot(page, name):
    screenshot(page, f"staff-{name}")


def test_staff_accepts_late_payment_and_sees_balance_change(live_server, scene, browser):
    from playwright.sync_api import expect

    seller, late = scene["seller"], scene["late"]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("dialog", lambda dialog: dialog.accept())
    staff_browser_log_in(page, live_server.url, scene["device"])  # staff always give a second factor
    expect(page.locator("#kassa-staff-tools [data-review-count]")).to_have_text("1")
    _shoot(page, "index")

    page.goto(f"{live_server.url}/admin/routing/")
    receivable = page.locator(
        f'[data-seller="{seller.slug}"] tr[data-currency="INR"] [data-balance="fee_receivable"]')
    before = receivable.inner_text()
    _shoot(page, "routing-before")

    page.click("text=Review queue")
    row = page.locator(f'tr[data-kind="payment"][data-pk="{late.pk}"]')
    expect(row).to_contain_text("Paid late")
    _shoot(page, "review")
    row.locator('button[value="accept_late"]').click()
    # Money moves: a confirmation page states the amount first.
    expect(page.locator("#kassa-confirm-items")).to_contain_text("credited to Lotus Prints")
    _shoot(page, "review-confirm")
    page.click("#kassa-confirm-yes")
    expect(page.locator(".messagelist")).to_contain_text("late payment accepted")
    expect(page.locator(f'tr[data-pk="{late.pk}"]')).to_have_count(0)

    page.goto(f"{live_server.url}/admin/routing/")
    expect(receivable).not_to_have_text(before)
    after = receivable.inner_text()
    _shoot(page, "routing-after")

    page.goto(f"{live_server.url}/admin/analytics/")
    page.wait_for_function("document.querySelector('#gmv-by-day') && window.Chart && "
                           "window.Chart.getChart(document.querySelector('#gmv-by-day'))")
    page.wait_for_timeout(1200)  # let the chart animation finish before the screenshot
    _shoot(page, "analytics")
    page.close()
    assert LedgerEntry.objects.get(payment=late).fee > 0 and after != before
    late.refresh_from_db()
    assert late.status == "completed" and late.events.filter(actor_user=scene["user"]).exists()


def test_staff_see_why_a_refunded_duplicate_is_back_in_the_queue(live_server, scene, browser, monkeypatch):
    from playwright.sync_api import expect

    from payments.providers.base import RefundResult
    from payments.services import refund_mark_failed
    from payments.staff.services import payment_refund_duplicate
    from tests.factories import GatewayPaymentFactory, OrderFactory
    from tests.services_patch import use_provider

    class AcceptsThenFails:
        def refund(self, payment, amount_minor, **kwargs):
            return RefundResult(provider_refund_id="rfnd_browser", status="pending")

    order = OrderFactory(seller=scene["seller"], reference="TWICE-1")
    gateway_capture(GatewayPaymentFactory(order=order))
    duplicate = GatewayPaymentFactory(order=order)
    gateway_capture(duplicate)
    duplicate.refresh_from_db()
    use_provider(monkeypatch, lambda method: AcceptsThenFails())
    refund = payment_refund_duplicate(payment=duplicate, actor=Actor.system("staff"))
    refund_mark_failed(refund=refund, actor=Actor.system("razorpay"), reason="beneficiary account closed")

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    staff_browser_log_in(page, live_server.url, scene["device"], next_path="/admin/review/")
    row = page.locator(f'tr[data-kind="payment"][data-pk="{duplicate.pk}"]')
    expect(row).to_contain_text("its refund failed: beneficiary account closed")
    expect(row.locator('button[value="refund_duplicate"]')).to_be_visible()
    _shoot(page, "review-refund-failed")
    page.close()

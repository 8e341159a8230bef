"""Shopper pages: storefront → checkout → pay → status → done."""
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from orders import views_shop
from orders.models import Order
from payments.models import Payment
from payments.providers import registry
from payments.providers.base import Observation
from payments.providers.errors import ProviderUnavailable, VerificationFailed
from payments.providers.nano import NanoProvider
from payments.services import payment_expire_stale
from sellers.models import Seller
from tests import factories

GOOD_HASH = "A" * 64


class StubbedNano(NanoProvider):
    """The real NanoProvider (availability, quote, start, QR) with its two node calls
    replaced: the facts poll() and verify() report are chosen by the test."""

    poll_results: list = []
    fail_with: Exception | None = None

    def _paid(self, payment, tx="B" * 64):
        return Observation(provider="nano", external_tx_id=tx, amount=payment.amount_due * 10**24, confirmed=True,
                           pay_to=payment.pay_to)

    def poll(self, payments):
        if self.fail_with:
            raise self.fail_with
        return [self._paid(p) for p in payments] if StubbedNano.poll_results == ["paid"] else []

    def scan(self, accounts):
        """The batched read a check without a reference uses: the same facts as poll()."""
        from payments.providers.nano import ScanResult

        if self.fail_with:
            raise self.fail_with
        addresses = [account.address for account in accounts]
        waiting = Payment.objects.filter(pay_to__in=addresses, status__in=Payment.ACTIVE_STATUSES)
        return ScanResult(observations=self.poll(list(waiting)))

    def verify(self, payment, reference):
        if self.fail_with:
            raise self.fail_with
        if reference != GOOD_HASH:
            raise VerificationFailed("block_not_found")
        return [self._paid(payment, tx=reference)]


@pytest.fixture
def nano(monkeypatch):
    monkeypatch.setitem(registry.PROVIDER_CLASSES, "nano", "tests.orders.test_shop_views.StubbedNano")
    monkeypatch.setattr(StubbedNano, "poll_results", [])
    monkeypatch.setattr(StubbedNano, "fail_with", None)
    registry.reset_providers()
    yield registry.get_provider("nano")
    registry.reset_providers()


@pytest.fixture
def shop(db, nano):
    seller = factories.SellerFactory(name="Print Shop", enabled_methods=["nano"])
    factories.PayoutDestinationFactory(seller=seller)
    return seller


@pytest.fixture
def order(shop):
    return factories.OrderFactory(seller=shop)


def url(name, order, **kwargs):
    return reverse(name, kwargs={"token": order.checkout_token, **kwargs})


def start(client, order, method="nano"):
    return client.post(url("shop-pay", order, method=method))


# --- storefront -----------------------------------------------------------------------

def test_storefront_lists_only_this_sellers_active_products(client, shop, other_seller):
    factories.ProductFactory(seller=shop, name="Blue poster")
    factories.ProductFactory(seller=shop, name="Retired mug", is_active=False)
    factories.ProductFactory(seller=other_seller, name="Someone else's lamp")

    response = client.get(f"/s/{shop.slug}/")

    assert response.status_code == 200
    body = response.content.decode()
    assert "Blue poster" in body
    assert "Retired mug" not in body
    assert "Someone else" not in body
    assert "Other Seller" not in body


def test_unknown_storefront_is_404(client, db):
    assert client.get("/s/no-such-shop/").status_code == 404


def test_names_are_escaped(client, db):
    seller = factories.SellerFactory(name="<script>alert('s')</script>")
    factories.ProductFactory(seller=seller, name="<img src=x onerror=alert(1)>")

    body = client.get(f"/s/{seller.slug}/").content.decode()

    assert "<script>alert" not in body
    assert "<img src=x" not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body


@pytest.mark.parametrize("status", [Seller.Status.SUSPENDED, Seller.Status.PENDING])
def test_seller_not_accepting_payments_is_refused(client, shop, status):
    product = factories.ProductFactory(seller=shop)
    order = factories.OrderFactory(seller=shop)
    Seller.objects.filter(pk=shop.pk).update(status=status)

    page = client.get(f"/s/{shop.slug}/")
    bought = client.post(f"/s/{shop.slug}/buy/", {"product": product.pk})
    checkout = client.get(url("shop-checkout", order))
    paid = start(client, order)

    for response in (page, bought, checkout, paid):
        assert response.status_code == 403
        assert "not accepting payments" in response.content.decode()
    assert Order.objects.filter(seller=shop).count() == 1
    assert not Payment.objects.exists()


def test_buy_creates_an_order_and_redirects_to_checkout(client, shop):
    product = factories.ProductFactory(seller=shop, unit_amount=25000)

    response = client.post(f"/s/{shop.slug}/buy/", {"product": product.pk, "quantity": "3", "nonce": "n" * 22})

    order = Order.objects.get(seller=shop)
    assert response.status_code == 302
    assert response["Location"] == f"/checkout/{order.checkout_token}/"
    assert order.amount == 75000 and order.currency == "INR"
    item = order.items.get()
    assert (item.product_id, item.quantity, item.unit_amount) == (product.pk, 3, 25000)
    assert order.events.get().actor_type == "shopper"


def test_double_submitted_buy_form_makes_one_order(client, shop):
    product = factories.ProductFactory(seller=shop)
    form = {"product": product.pk, "nonce": "same-form-nonce-123456"}

    first = client.post(f"/s/{shop.slug}/buy/", form)
    second = client.post(f"/s/{shop.slug}/buy/", form)
    other_product = client.post(f"/s/{shop.slug}/buy/", {**form, "product": factories.ProductFactory(seller=shop).pk})

    assert first["Location"] == second["Location"]
    assert other_product["Location"] != first["Location"]
    assert Order.objects.filter(seller=shop).count() == 2


def test_buy_refuses_another_sellers_product(client, shop, other_seller):
    foreign = factories.ProductFactory(seller=other_seller)

    response = client.post(f"/s/{shop.slug}/buy/", {"product": foreign.pk})

    assert response.status_code == 404
    assert not Order.objects.exists()


def test_buy_with_bad_quantity_is_400(client, shop):
    product = factories.ProductFactory(seller=shop)

    response = client.post(f"/s/{shop.slug}/buy/", {"product": product.pk, "quantity": "1000"})

    assert response.status_code == 400
    assert "quantity" in response.content.decode()
    assert not Order.objects.exists()


def test_buy_needs_csrf_token(shop):
    from django.test import Client

    product = factories.ProductFactory(seller=shop)
    response = Client(enforce_csrf_checks=True).post(f"/s/{shop.slug}/buy/", {"product": product.pk})

    assert response.status_code == 403
    assert not Order.objects.exists()


# --- checkout ---------------------------------------------------------------------------

def test_checkout_shows_items_total_and_available_methods(client, shop, order):
    shop.enabled_methods = ["nano", "razorpay"]
    shop.save(update_fields=["enabled_methods"])

    response = client.get(url("shop-checkout", order))

    body = response.content.decode()
    assert response.status_code == 200
    assert "Art print" in body and "₹499.00" in body
    assert [m.code for m in response.context["methods"]] == ["nano", "razorpay"]
    assert f'action="/checkout/{order.checkout_token}/pay/nano/"' in body


class BrokenCoinPay:
    code = "coinpay"

    def is_available(self, seller, order):
        raise RuntimeError("availability check broke")


def test_checkout_hides_methods_whose_provider_is_unavailable_or_broken(client, shop, order, monkeypatch):
    monkeypatch.setitem(registry.PROVIDER_CLASSES, "coinpay", "tests.orders.test_shop_views.BrokenCoinPay")
    registry.reset_providers()
    shop.payout_destinations.all().delete()  # Nano needs the seller's address
    shop.enabled_methods = ["nano", "coinpay"]
    shop.save(update_fields=["enabled_methods"])

    response = client.get(url("shop-checkout", order))

    assert response.status_code == 200
    assert response.context["methods"] == []
    assert "No payment methods available" in response.content.decode()


def test_checkout_does_not_hide_a_provider_module_that_cannot_be_imported(shop, order, monkeypatch):
    """No silent fallback: the method is not quietly dropped (the app refuses to start with it)."""
    from payments.selectors_shop import checkout_methods

    monkeypatch.setitem(registry.PROVIDER_CLASSES, "coinpay", "payments.providers.no_such_module.Provider")
    registry.reset_providers()
    shop.enabled_methods = ["coinpay"]
    shop.save(update_fields=["enabled_methods"])
    with pytest.raises(ImportError):
        checkout_methods(order=order)


def test_unknown_checkout_token_is_404(client, db):
    for path in ("/checkout/nope/", "/checkout/nope/pay/nano/", "/checkout/nope/done/", "/checkout/nope/status/"):
        assert client.get(path).status_code == 404, path


def test_paid_order_checkout_redirects_to_done(client, order):
    Order.objects.filter(pk=order.pk).update(status="paid", paid_at=timezone.now())

    for path in (url("shop-checkout", order), url("shop-pay", order, method="nano")):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"] == url("shop-done", order)


# --- pay --------------------------------------------------------------------------------

def test_pay_post_twice_returns_the_same_payment(client, order):
    first = start(client, order)
    second = start(client, order)

    payment = Payment.objects.get(order=order)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == url("shop-pay", order, method="nano")
    assert payment.status == "pending"


def test_pay_page_shows_exact_amount_address_qr_and_countdown(client, order):
    start(client, order)
    payment = Payment.objects.get(order=order)

    response = client.get(url("shop-pay", order, method="nano"))

    body = response.content.decode()
    assert response.status_code == 200
    raw = payment.amount_due * 10**24
    assert payment.amount_due == 5_988_001  # ₹499.00 at the sandbox rate of 12,000 µXNO per rupee, slot k = 1
    assert "Ӿ5.988001" in body and 'data-copy="5.988001"' in body
    assert f'data-copy="{raw}"' in body
    assert payment.pay_to in body
    assert '<svg viewBox' in body and 'class="qr-code"' in body
    assert f'href="nano:{payment.pay_to}?amount={raw}"' in body
    assert f'data-countdown="{payment.expires_at.isoformat()}"' in body
    assert 'http-equiv="refresh"' in body
    assert f'hx-get="/checkout/{order.checkout_token}/status/?method=nano"' in body


def test_pay_get_never_starts_a_payment(client, order):
    response = client.get(url("shop-pay", order, method="nano"))

    assert response.status_code == 302 and response["Location"] == url("shop-checkout", order)
    assert not Payment.objects.exists()


def test_unknown_method_is_404(client, order):
    assert client.post(url("shop-pay", order, method="paypal")).status_code == 404
    assert client.get(url("shop-pay", order, method="paypal")).status_code == 404


def test_method_the_seller_does_not_offer_is_a_friendly_400(client, order):
    response = start(client, order, method="coinpay")

    assert response.status_code == 400
    assert "does not accept this payment method" in response.content.decode()
    assert not Payment.objects.exists()


# As in production, the view runs outside any transaction: payment_start's block (no savepoint)
# is then the whole transaction, and Nano's start() failing inside it rolls back just that.
@pytest.mark.django_db(transaction=True)
def test_provider_error_on_start_is_shown_not_500(client, order, nano, monkeypatch):
    def down(payment):
        raise ProviderUnavailable("node timeout")

    monkeypatch.setattr(nano, "start", down)

    response = start(client, order)

    assert response.status_code == 503
    assert "not reachable right now" in response.content.decode()


# --- status, verify, simulate ------------------------------------------------------------

def test_status_partial_renders_and_redirects_when_paid(client, order, nano):
    start(client, order)
    payment = Payment.objects.get(order=order)
    status_url = url("shop-status", order) + "?method=nano"

    pending = client.get(status_url, HTTP_HX_REQUEST="true")
    assert pending.status_code == 200
    assert 'id="payment-status"' in pending.content.decode() and "Waiting for your payment" in pending.content.decode()

    from payments.services import observation_apply

    observation_apply(observation=nano._paid(payment))
    done = client.get(status_url, HTTP_HX_REQUEST="true")
    assert done["HX-Redirect"] == url("shop-done", order)
    no_js = client.get(status_url)
    assert no_js.status_code == 302 and no_js["Location"] == url("shop-done", order)


def test_status_shows_partial_amount_when_underpaid(client, order):
    start(client, order)
    payment = Payment.objects.get(order=order)
    from payments.services import observation_apply

    observation_apply(observation=Observation(provider="nano", external_tx_id="C" * 64, amount=2 * 10**30,
                                              confirmed=True, pay_to=payment.pay_to, payment_ref=str(payment.pk)))

    body = client.get(url("shop-status", order) + "?method=nano", HTTP_HX_REQUEST="true").content.decode()

    assert "Partly paid" in body and "Ӿ2 of Ӿ5.988001" in body and "remaining Ӿ3.988001" in body


def test_verify_with_a_good_block_hash_completes_and_goes_to_done(client, order):
    start(client, order)

    response = client.post(url("shop-verify", order), {"method": "nano", "reference": GOOD_HASH})

    assert response.status_code == 302 and response["Location"] == url("shop-done", order)
    order.refresh_from_db()
    assert order.status == "paid"
    done = client.get(url("shop-done", order))
    assert done.status_code == 200 and "Payment received" in done.content.decode()
    assert GOOD_HASH in done.content.decode()


def test_verify_with_a_bad_hash_shows_a_friendly_error(client, order):
    start(client, order)

    response = client.post(url("shop-verify", order), {"method": "nano", "reference": "F" * 64})

    assert response.status_code == 400
    assert "could not find a matching payment" in response.content.decode()
    assert Payment.objects.get(order=order).status == "pending"


def test_verify_rejects_garbage_input(client, order):
    start(client, order)

    response = client.post(url("shop-verify", order), {"method": "nano", "reference": "<script>"})

    assert response.status_code == 400
    assert "does not look like a transaction hash" in response.content.decode()


def test_verify_when_node_is_down_is_503_with_message(client, order, nano, monkeypatch):
    start(client, order)
    monkeypatch.setattr(StubbedNano, "fail_with", ProviderUnavailable("connection refused"))

    response = client.post(url("shop-verify", order), {"method": "nano", "reference": GOOD_HASH})
    cache.clear()  # past the per-checkout limit
    # Without a hash the answer comes at once; the check itself (queued) logs the failure.
    checking = client.post(url("shop-verify", order), {"method": "nano", "reference": ""}, follow=True)

    assert response.status_code == 503
    assert "try again in a moment" in response.content.decode()
    assert checking.status_code == 200 and "checking the network" in checking.content.decode()
    assert Payment.objects.get(order=order).status == "pending"


def test_verify_without_hash_polls_and_is_throttled(client, order, monkeypatch):
    start(client, order)

    nothing = client.post(url("shop-verify", order), {"method": "nano"})
    monkeypatch.setattr(StubbedNano, "poll_results", ["paid"])
    throttled = client.post(url("shop-verify", order), {"method": "nano"})

    assert nothing["Location"] == throttled["Location"] == url("shop-pay", order, method="nano")
    assert Payment.objects.get(order=order).status == "pending"


def test_simulate_is_404_outside_sandbox_mode(client, order, settings):
    settings.SANDBOX_MODE = False
    start(client, order)

    assert client.post(url("shop-simulate", order), {"method": "nano"}).status_code == 404


# --- done -------------------------------------------------------------------------------

def _expire(payment):
    Payment.objects.filter(pk=payment.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    payment_expire_stale()


def test_expired_payment_offers_try_again_which_starts_a_fresh_payment(client, order):
    start(client, order)
    old = Payment.objects.get(order=order)
    _expire(old)

    pay_page = client.get(url("shop-pay", order, method="nano"))
    done = client.get(url("shop-done", order))
    retry = start(client, order)

    assert pay_page["Location"] == url("shop-done", order)
    assert done.context["outcome"] == "expired" and "Try again with Nano" in done.content.decode()
    assert retry["Location"] == url("shop-pay", order, method="nano")
    fresh = Payment.objects.filter(order=order).exclude(pk=old.pk).get()
    assert fresh.status == "pending"
    order.refresh_from_db()
    assert order.status == "open"


def test_failed_payment_offers_retry(client, order):
    payment = factories.PaymentFactory(order=order, status="failed", amount_reserved=False)

    done = client.get(url("shop-done", order))

    assert done.context["outcome"] == "failed" and done.context["can_retry"]
    assert f'action="/checkout/{order.checkout_token}/pay/{payment.method}/"' in done.content.decode()


def test_cancelled_order_has_no_retry(client, order):
    Order.objects.filter(pk=order.pk).update(status="cancelled")

    done = client.get(url("shop-done", order))

    assert done.context["outcome"] == "cancelled" and not done.context["can_retry"]
    assert client.get(url("shop-checkout", order))["Location"] == url("shop-done", order)


def test_done_with_active_payment_goes_back_to_pay(client, order):
    start(client, order)

    assert client.get(url("shop-done", order))["Location"] == url("shop-pay", order, method="nano")


def test_pages_never_show_another_sellers_order(client, order, other_seller):
    foreign = factories.OrderFactory(seller=other_seller, reference="THEIRS-1")
    factories.PaymentFactory(order=foreign, status="failed")

    body = client.get(url("shop-checkout", order)).content.decode()

    assert "THEIRS-1" not in body and "Other Seller" not in body


# --- query counts ------------------------------------------------------------------------

def test_storefront_query_count_is_constant(client, shop, django_assert_max_num_queries):
    factories.ProductFactory.create_batch(20, seller=shop)

    with django_assert_max_num_queries(2):  # seller, products
        assert client.get(f"/s/{shop.slug}/").status_code == 200


def test_checkout_and_pay_query_counts_are_bounded(client, shop, django_assert_max_num_queries):
    order = factories.OrderFactory(seller=shop)
    for n in range(10):
        order.items.create(name=f"Extra {n}", unit_amount=100, quantity=1)

    # order+seller, payout destinations, items, latest payment, whether the seller requires an email
    with django_assert_max_num_queries(5):
        assert client.get(url("shop-checkout", order)).status_code == 200
    start(client, order)
    with django_assert_max_num_queries(3):  # order+seller, items, payment
        assert client.get(url("shop-pay", order, method="nano")).status_code == 200
    with django_assert_max_num_queries(2):  # polled every 3 s: order+seller, payment
        assert client.get(url("shop-status", order) + "?method=nano").status_code == 200


def test_simulate_pays_through_the_sandbox_simulator_and_lands_on_done(client, order, nano, monkeypatch, settings):
    settings.SANDBOX_MODE = True
    sent = []

    def simulate_payment(payment):  # the sandbox node would now hold the send; poll() reports it
        sent.append(payment.pk)
        monkeypatch.setattr(StubbedNano, "poll_results", ["paid"])

    monkeypatch.setattr(views_shop, "simulate_payment", simulate_payment)
    start(client, order)

    response = client.post(url("shop-simulate", order), {"method": "nano"})

    payment = Payment.objects.get(order=order)
    assert sent == [payment.pk]
    assert response["Location"] == url("shop-done", order)
    assert payment.status == "completed"


def test_simulate_when_sandbox_is_down_shows_a_message(client, order, monkeypatch, settings):
    settings.SANDBOX_MODE = True

    def simulate_payment(payment):
        raise ProviderUnavailable("connection refused")

    monkeypatch.setattr(views_shop, "simulate_payment", simulate_payment)
    start(client, order)

    response = client.post(url("shop-simulate", order), {"method": "nano"}, follow=True)

    assert response.status_code == 200
    assert "sandbox serve" in response.content.decode()
    assert Payment.objects.get(order=order).status == "pending"


def test_money_after_expiry_shows_paid_late_not_try_again(client, order, nano):
    from payments.services import observation_apply

    start(client, order)
    payment = Payment.objects.get(order=order)
    _expire(payment)
    observation_apply(observation=nano._paid(payment))

    done = client.get(url("shop-done", order))

    assert done.context["outcome"] == "paid_late" and not done.context["can_retry"]
    assert "Payment arrived late" in done.content.decode()


@pytest.mark.parametrize("sandbox", [True, False])
def test_simulate_button_only_in_sandbox_mode(client, order, settings, sandbox):
    settings.SANDBOX_MODE = sandbox
    start(client, order)

    body = client.get(url("shop-pay", order, method="nano")).content.decode()

    assert ("Simulate payment (sandbox)" in body) is sandbox
    assert (f'action="/checkout/{order.checkout_token}/simulate/"' in body) is sandbox

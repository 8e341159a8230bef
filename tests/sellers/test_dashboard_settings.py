"""Products, payment links, settings (payout validation) and the developers page."""
import pytest

from orders.models import Order, Product
from sellers.models import ApiKey, PayoutDestination
from sellers.services import hash_api_key
from tests import factories
from tests.sellers.dashboard_helpers import login
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


# --- products and payment links --------------------------------------------------------------

def test_product_create_edit_archive(client, seller, seller_user):
    login(client, seller_user)
    response = client.post("/dashboard/products/new/", {"name": "Poster", "price": "1,299.50", "currency": "INR",
                                                         "description": ""}, follow=True)
    product = Product.objects.get(seller=seller, name="Poster")
    assert product.unit_amount == 129950 and product.is_active
    assert "₹1,299.50" in response.content.decode()
    assert f"/s/{seller.slug}/" in response.content.decode()

    client.post(f"/dashboard/products/{product.pk}/edit/", {"name": "Poster XL", "price": "10", "currency": "USD"})
    product.refresh_from_db()
    assert (product.name, product.unit_amount, product.currency) == ("Poster XL", 1000, "USD")

    client.post(f"/dashboard/products/{product.pk}/archive/")
    product.refresh_from_db()
    assert not product.is_active
    client.post(f"/dashboard/products/{product.pk}/archive/", {"restore": "1"})
    product.refresh_from_db()
    assert product.is_active


def test_product_bad_price_is_a_form_error(client, seller, seller_user):
    login(client, seller_user)
    response = client.post("/dashboard/products/new/", {"name": "X", "price": "-5", "currency": "INR"})
    assert response.status_code == 400 and "cannot be negative" in response.content.decode()
    response = client.post("/dashboard/products/new/", {"name": "X", "price": "1.5", "currency": "XNO"})
    assert response.status_code == 302  # XNO has six decimals
    response = client.post("/dashboard/products/new/", {"name": "Y", "price": "0", "currency": "INR"})
    assert response.status_code == 400
    assert Product.objects.filter(seller=seller).count() == 1


def test_payment_link_creates_an_order_and_shows_checkout_url(client, seller, seller_user):
    login(client, seller_user)
    response = client.post("/dashboard/products/payment-link/",
                           {"amount": "250.75", "currency": "INR", "description": "Custom frame"}, follow=True)
    order = Order.objects.get(seller=seller)
    assert order.amount == 25075 and order.metadata == {"payment_link": True} and order.status == "open"
    body = response.content.decode()
    assert f"/checkout/{order.checkout_token}/" in body
    assert f"/checkout/{order.checkout_token}/" in client.get("/dashboard/products/").content.decode()
    bad = client.post("/dashboard/products/payment-link/", {"amount": "abc", "currency": "INR", "description": "x"})
    assert bad.status_code == 400 and Order.objects.count() == 1


# --- settings ---------------------------------------------------------------------------------

def test_settings_update(client, seller, seller_user):
    login(client, seller_user)
    response = client.post("/dashboard/settings/", {"name": "New name", "timezone": "Europe/Berlin",
                                                    "default_currency": "EUR", "enabled_methods": ["nano", "coinpay"]})
    assert response.status_code == 302
    seller.refresh_from_db()
    assert (seller.name, seller.timezone, seller.default_currency) == ("New name", "Europe/Berlin", "EUR")
    assert seller.enabled_methods == ["nano", "coinpay"]
    bad = client.post("/dashboard/settings/", {"name": "x", "timezone": "Mars/Olympus", "default_currency": "EUR"})
    assert bad.status_code == 400 and "not a known timezone" in bad.content.decode()


def test_fee_is_read_only(client, seller, seller_user):
    seller.fee_bps = 190
    seller.save()
    login(client, seller_user)
    assert "1.9%" in client.get("/dashboard/settings/").content.decode()
    client.post("/dashboard/settings/", {"name": "x", "timezone": "UTC", "default_currency": "INR", "fee_bps": "0"})
    seller.refresh_from_db()
    assert seller.fee_bps == 190


def test_payout_destinations_are_validated(client, seller, seller_user):
    login(client, seller_user)
    good = factories.nano_address("payout-good")
    bad = good[:-1] + ("1" if good[-1] != "1" else "3")  # breaks the checksum
    response = client.post("/dashboard/settings/", {"payout-method": "nano", "payout-value": bad})
    assert response.status_code == 400
    assert "Not a valid Nano address" in response.content.decode()
    assert not PayoutDestination.objects.filter(seller=seller).exists()

    assert client.post("/dashboard/settings/", {"payout-method": "nano", "payout-value": good}).status_code == 302
    assert PayoutDestination.objects.get(seller=seller, method="nano").value == good
    response = client.post("/dashboard/settings/", {"payout-method": "razorpay", "payout-value": "acc_short"})
    assert response.status_code == 400 and "acc_XXXXXXXXXXXXXX" in response.content.decode()
    client.post("/dashboard/settings/", {"payout-method": "razorpay", "payout-value": "acc_ABCDEFGHIJKLMN"})
    assert PayoutDestination.objects.filter(seller=seller).count() == 2
    client.post("/dashboard/settings/", {"payout-method": "nano", "payout-value": ""})  # clears it
    assert not PayoutDestination.objects.filter(seller=seller, method="nano").exists()


# --- developers -------------------------------------------------------------------------------

def test_api_key_shown_once_and_revocable(client, seller, seller_user):
    login(client, seller_user)
    body = client.post("/dashboard/developers/keys/", {"name": "CI", "mode": "test"}, follow=True).content.decode()
    key = body.split('id="revealed-secret">')[1].split("<")[0]
    row = ApiKey.objects.get(seller=seller)
    assert key.startswith("sk_test_") and row.key_hash == hash_api_key(key)
    assert key not in client.get("/dashboard/developers/").content.decode()  # only once
    client.post(f"/dashboard/developers/keys/{row.pk}/revoke/")
    row.refresh_from_db()
    assert row.revoked_at is not None


def test_webhook_endpoint_secret_once_rotate_test_and_delete(client, seller, seller_user, monkeypatch):
    monkeypatch.setattr("webhooks.services._enqueue_deliveries", lambda ids: None)
    login(client, seller_user)
    body = client.post("/dashboard/developers/endpoints/", {"url": "https://hooks.example/k",
                                                             "events": ["payment.completed"]}, follow=True)
    endpoint = WebhookEndpoint.objects.get(seller=seller)
    assert endpoint.secret in body.content.decode() and endpoint.events == ["payment.completed"]
    assert endpoint.secret not in client.get("/dashboard/developers/").content.decode()

    old = endpoint.secret
    body = client.post(f"/dashboard/developers/endpoints/{endpoint.pk}/rotate/", follow=True).content.decode()
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.secret in body

    client.post(f"/dashboard/developers/endpoints/{endpoint.pk}/test/")
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.event_type == "payment.completed" and delivery.payload["type"] == "payment.completed"
    assert delivery.payload["data"]["test"] is True and delivery.payload["data"]["status"] == "completed"
    log = client.get("/dashboard/developers/").content.decode()
    assert "payment.completed" in log and f"/dashboard/developers/deliveries/{delivery.pk}/resend/" in log

    client.post(f"/dashboard/developers/endpoints/{endpoint.pk}/delete/")
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_a_double_submitted_endpoint_is_added_once(client, seller, seller_user):
    """Two clicks on "Add endpoint" made two endpoints for one URL: every event went twice, and one copy was
    signed with a secret the seller was never shown (the second reveal replaced the first)."""
    login(client, seller_user)
    form = {"url": "https://hooks.example/k", "events": ["payment.completed"]}
    assert client.post("/dashboard/developers/endpoints/", form).status_code == 302
    again = client.post("/dashboard/developers/endpoints/", form)
    assert again.status_code == 400 and "already sends to https://hooks.example/k" in again.content.decode()
    assert WebhookEndpoint.objects.filter(seller=seller).count() == 1


def test_the_dashboard_keeps_the_endpoint_cap(client, seller, seller_user):
    """The API refused a 21st endpoint; the dashboard added as many as were posted."""
    for i in range(20):
        WebhookEndpoint.objects.create(seller=seller, url=f"https://hooks.example/{i}", secret=f"whsec_{i}")
    login(client, seller_user)
    response = client.post("/dashboard/developers/endpoints/", {"url": "https://hooks.example/new"})
    assert response.status_code == 400 and "at most 20 webhook endpoints" in response.content.decode()
    assert WebhookEndpoint.objects.filter(seller=seller).count() == 20


def test_bad_endpoint_url_is_a_form_error(client, seller_user):
    login(client, seller_user)
    response = client.post("/dashboard/developers/endpoints/", {"url": "not a url"})
    assert response.status_code == 400 and "Enter a valid URL" in response.content.decode()


def test_delivery_log_resend(client, seller, seller_user, monkeypatch):
    endpoint = WebhookEndpoint.objects.create(seller=seller, url="https://hooks.example/r", secret="whsec_AAAA")
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, seller=seller, message_id="m1", attempts=8,
                                              event_type="payment.completed", payload={}, status="dead",
                                              last_status_code=500)
    calls = []

    def fake(*, delivery):
        calls.append(delivery.pk)
        delivery.status, delivery.last_status_code = "succeeded", 204
        return delivery

    monkeypatch.setattr("sellers.views.developers.delivery_resend", fake)
    login(client, seller_user)
    page = client.get("/dashboard/developers/").content.decode()
    assert "Gave up" in page and ">500<" in page and ">8<" in page
    body = client.post(f"/dashboard/developers/deliveries/{delivery.pk}/resend/", follow=True).content.decode()
    assert calls == [delivery.pk] and "Delivered (HTTP 204)" in body


def test_disabled_endpoint_banner_and_reenable(client, seller, seller_user):
    from django.utils import timezone

    endpoint = WebhookEndpoint.objects.create(seller=seller, url="https://down.example/h", secret="whsec_AAAA",
                                              is_active=False, disabled_at=timezone.now(),
                                              disabled_reason="Every delivery failed for 3 days.")
    login(client, seller_user)
    body = client.get("/dashboard/developers/").content.decode()
    assert "were turned off" in body and "Every delivery failed for 3 days." in body
    client.post(f"/dashboard/developers/endpoints/{endpoint.pk}/enable/")
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.disabled_at is None
    assert "were turned off" not in client.get("/dashboard/developers/").content.decode()


@pytest.mark.parametrize("url,field", [("/dashboard/products/payment-link/", "amount"),
                                       ("/dashboard/products/new/", "price")])
def test_an_amount_past_the_limit_is_a_clear_form_error(client, seller, seller_user, url, field):
    """99999999999999999999999999 was an OverflowError (500) on the BigInteger column."""
    login(client, seller_user)
    response = client.post(url, {field: "99999999999999999999999999", "currency": "INR", "description": "x",
                                 "name": "x"})
    assert response.status_code == 400 and "at most" in response.content.decode()
    assert not Order.objects.exists() and not Product.objects.exists()


def test_products_page_ids_are_unique_and_labels_focus_their_own_field(client, seller, seller_user):
    """Two forms on one page (product, payment link) once both rendered id="id_description"."""
    import re

    body = login(client, seller_user).get("/dashboard/products/").content.decode()
    ids = re.findall(r'\sid="([^"]+)"', body)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    link_form = body.split('id="payment-link"')[1]
    target = re.search(r'<label for="([^"]+)">What it is for</label>', link_form)[1]
    assert re.search(rf'<(input|textarea)[^>]*id="{target}"', link_form), target


def test_settings_timezone_picker_fee_card_and_one_save_per_card(client, seller, seller_user):
    import re

    body = login(client, seller_user).get("/dashboard/settings/").content.decode()
    assert re.search(r'<select name="timezone"[^>]*>', body)
    assert '<option value="Asia/Kolkata" selected>Asia/Kolkata</option>' in body
    assert '<option value="America/Argentina/Buenos_Aires">America/Argentina/Buenos Aires</option>' in body
    fee_card = body.split('aria-labelledby="fee-title"')[1].split("</section>")[0]
    assert 'id="platform-fee"' in fee_card and "<form" not in fee_card  # read-only, in a card of its own
    for form in re.findall(r"<form\b.*?</form>", body, re.S):
        if 'action="/accounts/logout/"' not in form:
            assert form.count('type="submit"') == 1, form[:200]
    for card in re.findall(r'<section class="card[^"]*"[^>]*>(.*?)</section>', body, re.S):
        assert re.sub(r"<[^>]+>|\s", "", card.split("</h2>", 1)[-1]), "an empty card"

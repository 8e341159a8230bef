"""Anonymous checkout floods: per-client throttling of Buy and payment starts, on the API's counter."""
import pytest
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.cache import SessionStore
from django.test import Client, RequestFactory

from orders import views_shop
from orders.models import Order
from payments.models import Payment
from tests import factories
from tests.orders.test_shop_views import nano, order, shop, start, url  # noqa: F401 - fixtures


def _with_session(request):
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return request


@pytest.fixture
def rate(settings):
    settings.SHOP_THROTTLE_RATE = "20/min"
    return 20


def test_a_flood_of_anonymous_starts_is_throttled_and_a_real_shopper_still_pays(shop, rate):  # noqa: F811
    """10,000 rapid Buy + Pay-with-Nano requests from one client: at most `rate` of each get
    through (429 with a clear message after that), the address keeps free amount slots, and a
    shopper on another connection still gets a payment."""
    product = factories.ProductFactory(seller=shop, unit_amount=33300)
    victim_orders = [factories.OrderFactory(seller=shop) for _ in range(rate + 5)]
    # The views themselves (RequestFactory: no middleware round trip, so 10,000 stay fast).
    requests = RequestFactory(REMOTE_ADDR="203.0.113.7")
    statuses = {"buy": {}, "pay": {}}
    for i in range(5_000):
        # No session and a spoofed X-Forwarded-For each time: neither buys a fresh allowance.
        spoof = {"HTTP_X_FORWARDED_FOR": f"10.0.{i // 250}.{i % 250}"}
        request = requests.post(f"/s/{shop.slug}/buy/", {"product": product.pk, "quantity": "1"}, **spoof)
        bought = views_shop.buy(_with_session(request), slug=shop.slug)
        statuses["buy"][bought.status_code] = statuses["buy"].get(bought.status_code, 0) + 1
        victim = victim_orders[i % len(victim_orders)]
        request = requests.post(url("shop-pay", victim, method="nano"), **spoof)
        paid = views_shop.pay(_with_session(request), token=victim.checkout_token, method="nano")
        statuses["pay"][paid.status_code] = statuses["pay"].get(paid.status_code, 0) + 1
    bot = Client(REMOTE_ADDR="203.0.113.7")

    assert statuses["buy"].get(429, 0) >= 5_000 - rate and statuses["pay"].get(429, 0) >= 5_000 - rate
    assert Order.objects.filter(seller=shop).count() <= len(victim_orders) + rate
    assert Payment.objects.filter(seller=shop).count() <= rate
    refused = bot.post(f"/s/{shop.slug}/buy/", {"product": product.pk, "quantity": "1"})
    assert refused.status_code == 429 and "Too many checkouts" in refused.content.decode()
    assert int(refused["Retry-After"]) >= 1

    shopper = Client(REMOTE_ADDR="198.51.100.20")
    bought = shopper.post(f"/s/{shop.slug}/buy/", {"product": product.pk, "quantity": "1"})
    assert bought.status_code == 302
    real = Order.objects.get(checkout_token=bought["Location"].rstrip("/").split("/")[-1])
    assert start(shopper, real).status_code == 302
    assert Payment.objects.get(order=real).status == "pending"


def test_a_session_is_throttled_even_across_addresses(shop, order, rate):  # noqa: F811
    client = Client()
    client.get(f"/s/{shop.slug}/")
    session = client.session
    session["seen"] = True
    session.save()
    codes = [start(client, order, method="nano").status_code
             for _ in range(rate)]
    for i in range(3):
        client.defaults["REMOTE_ADDR"] = f"198.51.100.{i + 1}"
        codes.append(start(client, order).status_code)
    assert 429 not in codes[:rate] and codes[-1] == 429


def test_a_longer_tier_caps_a_slow_steady_flood(shop, order, settings):  # noqa: F811
    """A per-minute limit alone lets one client hold thousands of slots over the hours a slot is
    held; the hourly tier stops it."""
    settings.SHOP_THROTTLE_RATE = "1000/min,5/hour"
    client = Client(REMOTE_ADDR="203.0.113.9")
    codes = [start(client, order).status_code for _ in range(6)]
    assert codes[:5] == [302] * 5 and codes[5] == 429

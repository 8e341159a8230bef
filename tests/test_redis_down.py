"""Redis unreachable (REDIS_URL points at a closed port): every path degrades, none answers 500.

The throttle fails open with a warning, the Buy form's nonce falls back to the database, "I've
paid" still asks the provider, and what cannot work without Redis answers 503 with Retry-After."""
import logging
import re
from datetime import timedelta

import pytest
import redis
import time_machine
from django.urls import reverse

from orders.models import Order
from payments.models import Payment
from sellers.services import api_key_create
from tests import factories
from tests.integration.conftest import free_port
from tests.orders.test_shop_views import GOOD_HASH, nano  # noqa: F401  (fixture)


@pytest.fixture
def dead_redis(settings):
    """Cache and the throttle's client both point at a port nothing listens on."""
    import config.redis

    url = f"redis://127.0.0.1:{free_port()}/0"
    settings.REDIS_URL = url
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url,
                                   "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}}
    config.redis._forget_after_fork()  # no client built for the real Redis yet
    yield url
    config.redis._forget_after_fork()


@pytest.fixture
def shop(db, nano):  # noqa: F811
    seller = factories.SellerFactory(name="Print Shop", enabled_methods=["nano"])
    factories.PayoutDestinationFactory(seller=seller)
    return seller


def bearer(seller) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {api_key_create(seller=seller)[1]}"}


def test_authenticated_api_calls_work_and_the_throttle_fails_open(client, shop, dead_redis, caplog):
    headers = bearer(shop)
    with caplog.at_level(logging.WARNING):
        listed = client.get("/api/v1/orders/", **headers)
        created = client.post("/api/v1/orders/", {"currency": "INR", "items": [
            {"name": "Print", "unit_amount": 49900, "quantity": 1}]}, content_type="application/json", **headers)
    assert listed.status_code == 200, listed.content
    assert created.status_code == 201, created.content
    warnings = [r for r in caplog.records if r.getMessage() == "redis unavailable" and r.levelno == logging.WARNING]
    assert [r.use for r in warnings] == ["throttle"], "one warning per outage window, not one per request"


def test_api_docs_answer(client, db, dead_redis):
    assert client.get("/api/docs/").status_code == 200
    assert client.get("/api/schema/").status_code == 200


def test_storefront_buy_works_and_a_double_submit_makes_one_order(client, shop, dead_redis):
    product = factories.ProductFactory(seller=shop)
    form = {"product": product.pk, "quantity": "1", "nonce": "redis-is-down-nonce-1234"}
    first = client.post(f"/s/{shop.slug}/buy/", form)
    second = client.post(f"/s/{shop.slug}/buy/", form)
    assert first.status_code == second.status_code == 302, first.content
    assert first["Location"] == second["Location"]
    assert Order.objects.filter(seller=shop).count() == 1


def test_ive_paid_still_checks_with_the_provider(client, shop, dead_redis):
    order = factories.OrderFactory(seller=shop)
    assert client.post(reverse("shop-pay", kwargs={"token": order.checkout_token, "method": "nano"})).status_code == 302
    response = client.post(reverse("shop-verify", kwargs={"token": order.checkout_token}),
                           {"method": "nano", "reference": GOOD_HASH})
    assert response.status_code == 302, response.content
    assert Payment.objects.get(order=order).status == Payment.Status.COMPLETED


@pytest.fixture
def dead_broker():
    """Celery publishes for real, to a port nothing listens on: the broker is down (Redis, which is
    also the cache by default, or a broker of its own such as RabbitMQ)."""
    from config.celery_app import app

    url = f"redis://127.0.0.1:{free_port()}/0"
    saved = app.conf.broker_url, app._pool, app.amqp._producer_pool
    app.conf.broker_url, app._pool, app.amqp._producer_pool = url, None, None  # connections to it, made anew
    app.conf.task_always_eager = False  # conftest's _eager_celery restores it
    yield url
    if app._pool is not None:
        app._pool.force_close_all()
    app.conf.broker_url, app._pool, app.amqp._producer_pool = saved


def test_a_payment_paid_while_the_broker_is_down_answers_and_its_email_waits_for_the_sweep(
        transactional_db, client, shop, dead_redis, dead_broker):
    """The receipt's send is published after the request's commit (transactional_db: a real commit);
    with the broker down that raised a kombu error (not a Redis one), so the shopper whose payment had
    just completed got a 500. Now the row waits for the send-due-emails sweep."""
    from notifications.models import OutboxEmail
    from notifications.services import outbox_due_ids

    order = factories.OrderFactory(seller=shop)
    assert client.post(reverse("shop-pay", kwargs={"token": order.checkout_token, "method": "nano"})).status_code == 302
    response = client.post(reverse("shop-verify", kwargs={"token": order.checkout_token}),
                           {"method": "nano", "reference": GOOD_HASH})
    assert response.status_code == 302, response.content
    assert Payment.objects.get(order=order).status == Payment.Status.COMPLETED
    receipt = OutboxEmail.objects.get(kind="receipt")
    assert receipt.status == OutboxEmail.Status.QUEUED
    with time_machine.travel(receipt.next_attempt_at + timedelta(seconds=1)):
        assert outbox_due_ids() == [receipt.pk]


def test_ive_paid_without_a_reference_answers_while_only_the_broker_is_down(transactional_db, client, shop,
                                                                            dead_broker):
    """With a broker of its own down (the cache still up), "I've paid" queued its check after commit
    and the kombu error was a 500. Now the shopper is told the check is under way: the beat tick
    reads the address anyway."""
    order = factories.OrderFactory(seller=shop)
    assert client.post(reverse("shop-pay", kwargs={"token": order.checkout_token, "method": "nano"})).status_code == 302
    response = client.post(reverse("shop-verify", kwargs={"token": order.checkout_token}), {"method": "nano"})
    assert response.status_code == 302, response.content
    assert response["Location"] == reverse("shop-pay", kwargs={"token": order.checkout_token, "method": "nano"})
    assert Payment.objects.get(order=order).status == Payment.Status.PENDING


def test_healthz_says_503(client, db, dead_redis):
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["cache"]["ok"] is False


def test_a_partner_session_survives_as_a_guest(client, shop, dead_redis, settings):
    settings.PARTNER_VERIFY_URL = f"http://127.0.0.1:{free_port()}/verify"  # the partner is down too
    order = factories.OrderFactory(seller=shop)
    session = client.session
    session["kassa_partner"] = {"uid": "u1", "th": "0" * 64, "at": 2_000_000_000, "sig": "x"}
    session.save()
    checkout = reverse("shop-checkout", kwargs={"token": order.checkout_token})
    assert client.get(checkout).status_code == 200
    assert client.get(checkout + "?partner_token=sandbox-user-token").status_code == 302


# --- where nothing else works: 503, Retry-After, the error shape ----------------------------------

def test_an_api_view_that_needs_redis_answers_503_in_the_error_shape(client, shop, dead_redis, monkeypatch):
    import sellers.api_auth

    def lookup(prefix):
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1. Connection refused.")

    monkeypatch.setattr(sellers.api_auth, "api_key_lookup", lookup)
    response = client.get("/api/v1/orders/", **bearer(shop))
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert response.json()["error"]["code"] == "service_unavailable"
    assert "127.0.0.1" not in response.content.decode()


def test_a_page_that_needs_redis_answers_503(client, shop, dead_redis, monkeypatch):
    import orders.views_shop

    def products(**kwargs):
        raise redis.TimeoutError("Timeout reading from socket")

    monkeypatch.setattr(orders.views_shop, "storefront_products", products)
    response = client.get(f"/s/{shop.slug}/")
    assert response.status_code == 503 and int(response["Retry-After"]) > 0
    assert re.search(r"try again", response.content.decode(), re.I)
    webhook = client.post("/webhooks/coinpay/", b"{}", content_type="application/json")
    assert webhook.status_code != 500


def test_redis_failing_inside_a_middleware_is_503_not_500(shop, dead_redis, settings, monkeypatch):
    """Exceptions raised in a middleware never reach a view's handler: the 500 handler turns them into 503."""
    from django.test import Client

    from orders.partner_session import PartnerSessionMiddleware

    def broken(self, request):
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1. Connection refused.")

    settings.DEBUG = False
    monkeypatch.setattr(PartnerSessionMiddleware, "__call__", broken)
    client = Client(raise_request_exception=False)
    page = client.get(f"/s/{shop.slug}/")
    api = client.get("/api/v1/orders/", **bearer(shop))
    assert page.status_code == api.status_code == 503
    assert page["Retry-After"] == api["Retry-After"] == "5"
    assert "Try again in a moment" in page.content.decode()
    assert api.json()["error"]["code"] == "service_unavailable"


# --- a real server process with a dead REDIS_URL ------------------------------------------------

def _database_url() -> str:
    from pathlib import Path

    from django.conf import settings as django_settings

    db = django_settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    return f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.integration
def test_a_real_server_with_a_dead_redis_answers_every_path_without_500(transactional_db, tmp_path):
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    import requests
    from django.conf import settings as django_settings

    from tests.integration.conftest import _shares_database_across_threads

    if not _shares_database_across_threads():
        pytest.skip("needs PostgreSQL or a file SQLite test DB (SQLITE_TEST_NAME=var/test.sqlite3)")
    seller = factories.SellerFactory(name="Print Shop", enabled_methods=["nano"])
    factories.PayoutDestinationFactory(seller=seller)
    product = factories.ProductFactory(seller=seller)
    payment = factories.PaymentFactory(order=factories.OrderFactory(seller=seller))
    headers = {"Authorization": f"Bearer {api_key_create(seller=seller)[1]}"}
    port, dead = free_port(), f"redis://127.0.0.1:{free_port()}/0"
    env = {**os.environ, "REDIS_URL": dead, "DATABASE_URL": _database_url(), "VAR_DIR": str(tmp_path),
           "NANO_RPC_URL": f"http://127.0.0.1:{free_port()}/nano", "DEBUG": "true", "SANDBOX_MODE": "true"}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
                               "--workers", "1", "--threads", "4", "--log-level", "warning"],
                              cwd=Path(django_settings.BASE_DIR), env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                requests.get(f"{base}/healthz", timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        shopper = requests.Session()
        page = shopper.get(f"{base}/s/{seller.slug}/", timeout=10)
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        nonce = re.search(r'name="nonce" value="([^"]+)"', page.text).group(1)
        buy = shopper.post(f"{base}/s/{seller.slug}/buy/", timeout=10, allow_redirects=False,
                           data={"csrfmiddlewaretoken": csrf, "product": product.pk, "quantity": "1", "nonce": nonce},
                           headers={"Referer": f"{base}/s/{seller.slug}/"})
        paid = shopper.post(f"{base}/checkout/{payment.order.checkout_token}/verify/", timeout=10,
                            allow_redirects=False, headers={"Referer": base},
                            data={"csrfmiddlewaretoken": shopper.cookies.get("csrftoken", csrf), "method": "nano",
                                  "reference": GOOD_HASH})
        answers = {
            "api list": requests.get(f"{base}/api/v1/orders/", headers=headers, timeout=10).status_code,
            "api create": requests.post(f"{base}/api/v1/orders/", headers=headers, timeout=10, json={
                "currency": "INR", "items": [{"name": "Print", "unit_amount": 49900, "quantity": 1}]}).status_code,
            "storefront": page.status_code, "buy": buy.status_code, "i've paid": paid.status_code,
            "api docs": requests.get(f"{base}/api/docs/", timeout=10).status_code,
            "healthz": requests.get(f"{base}/healthz", timeout=10).status_code,
        }
    finally:
        server.terminate()
        server.wait(20)
    assert answers == {"api list": 200, "api create": 201, "storefront": 200, "buy": 302,
                       "i've paid": 503, "api docs": 200, "healthz": 503}, answers  # 503: the Nano node is down too

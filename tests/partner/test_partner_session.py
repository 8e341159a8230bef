"""?partner_token= entry, the verified session, and guest fallback (issue 8)."""
import time

import pytest
import requests
import time_machine
from django.contrib.messages import get_messages

from orders.models import Order
from orders.partner_session import SESSION_KEY
from payments.models import Payment
from tests import factories
from tests.partner.conftest import add_token, sign_in, verify_ok

pytestmark = pytest.mark.django_db

GUEST_HINT = "You can still pay as a guest"


@pytest.fixture
def shop(fake_nano):
    seller = factories.SellerFactory(slug="lotus", name="Lotus Prints", enabled_methods=["nano"])
    factories.PayoutDestinationFactory(seller=seller)
    product = factories.ProductFactory(seller=seller, name="Lotus print", unit_amount=49900)
    return seller, product


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_entry_verifies_then_redirects_to_the_same_url_without_the_token(client, partner_api, shop):
    add_token(partner_api, "tok-good", json=verify_ok("user@example.com"))
    response = client.get("/s/lotus/?ref=app&partner_token=tok-good")
    assert response.status_code == 302
    assert response["Location"] == "/s/lotus/?ref=app"
    assert response["Cache-Control"] == "no-store"
    stored = client.session[SESSION_KEY]
    assert set(stored) == {"uid", "th", "at", "exp", "sig"}
    assert stored["uid"] == "user@example.com"
    assert "tok-good" not in repr(dict(client.session.items()))
    page = client.get("/s/lotus/")
    assert page.status_code == 200
    assert "tok-good" not in page.content.decode()


def test_entry_rotates_the_session_key(client, partner_api, shop):
    add_token(partner_api, "tok-good", json=verify_ok("user@example.com"))
    client.get("/s/lotus/")
    client.session.save()
    before = client.cookies["sessionid"].value
    sign_in(client, "tok-good", "/s/lotus/")
    assert client.cookies["sessionid"].value != before


def test_verified_shopper_buys_and_pays_bound_to_partner_id(client, partner_api, shop):
    seller, product = shop
    add_token(partner_api, "tok-good", json=verify_ok("user@example.com"))
    sign_in(client, "tok-good", "/s/lotus/")
    response = client.post("/s/lotus/buy/", {"product": product.pk, "quantity": 1})
    assert response.status_code == 302
    order = Order.objects.get()
    assert order.partner_user_id == "user@example.com"
    client.post(f"/checkout/{order.checkout_token}/pay/nano/")
    assert Payment.objects.get().order.partner_user_id == "user@example.com"


def test_verified_shopper_paying_an_api_created_order_binds_it_once(client, partner_api, shop):
    seller, _ = shop
    order = factories.OrderFactory(seller=seller, partner_user_id="")
    add_token(partner_api, "tok-good", json=verify_ok("user@example.com"))
    sign_in(client, "tok-good", f"/checkout/{order.checkout_token}/")
    client.post(f"/checkout/{order.checkout_token}/pay/nano/")
    order.refresh_from_db()
    assert order.partner_user_id == "user@example.com"
    assert order.events.filter(type="order.partner_bound").count() == 1
    # Someone else with the checkout link cannot re-bind it.
    add_token(partner_api, "tok-other", json=verify_ok("other@example.com"))
    sign_in(client, "tok-other", f"/checkout/{order.checkout_token}/")
    client.post(f"/checkout/{order.checkout_token}/pay/nano/")
    order.refresh_from_db()
    assert order.partner_user_id == "user@example.com"


@pytest.mark.parametrize("answer", [
    {"status": 401, "json": {"success": False, "result": "Token expired"}},
    {"status": 200, "json": {"success": True, "data": {}}},
])
def test_refused_token_shows_a_message_and_binds_nothing(client, partner_api, shop, answer):
    _, product = shop
    add_token(partner_api, "tok-bad", **answer)
    response = sign_in(client, "tok-bad", "/s/lotus/")
    assert response.status_code == 302 and response["Location"] == "/s/lotus/"
    assert SESSION_KEY not in client.session
    page = client.get("/s/lotus/")
    assert "couldn&#x27;t confirm your sign-in" in page.content.decode()
    client.post("/s/lotus/buy/", {"product": product.pk, "quantity": 1})
    assert Order.objects.get().partner_user_id == ""
    assert client.get("/me/payments/").status_code == 403


@pytest.mark.parametrize("failure", [
    {"status": 500, "json": {"error": "boom"}},
    {"error": requests.ReadTimeout("slow")},
])
def test_partner_down_guest_checkout_still_works_with_a_message(client, partner_api, shop, failure):
    _, product = shop
    add_token(partner_api, "tok-any", **failure)
    response = sign_in(client, "tok-any", "/s/lotus/")
    assert response.status_code == 302
    assert any(GUEST_HINT in m and "isn't answering" in m for m in _messages(client.get("/s/lotus/")))
    client.post("/s/lotus/buy/", {"product": product.pk, "quantity": 1})
    order = Order.objects.get()
    assert order.partner_user_id == ""
    pay = client.post(f"/checkout/{order.checkout_token}/pay/nano/")
    assert pay.status_code == 302
    assert Payment.objects.filter(order=order, status="pending").exists()


def test_a_slow_partner_times_out_within_the_limit(client, partner_on, shop):
    """Over real HTTP: a server that never answers costs at most the timeout."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    partner_on.PARTNER_VERIFY_URL = f"http://127.0.0.1:{listener.getsockname()[1]}/verify"
    partner_on.PARTNER_VERIFY_TIMEOUT = 0.3
    started = time.monotonic()
    response = sign_in(client, "tok-slow", "/s/lotus/")
    elapsed = time.monotonic() - started
    listener.close()
    assert response.status_code == 302 and SESSION_KEY not in client.session
    assert elapsed < 2


def test_session_slides_with_activity_and_lapses_after_the_setting(client, partner_api, settings):
    settings.PARTNER_SESSION_SECONDS = 600
    add_token(partner_api, "tok-rev", json=verify_ok("user@example.com"))
    with time_machine.travel("2026-11-25 12:00:00+00:00", tick=False) as traveller:
        sign_in(client, "tok-rev")
        # The partner revokes the token; the signed-in session runs on its own lifetime.
        partner_api.replace("GET", partner_api.calls[0].request.url, status=401,
                            json={"success": False, "result": "Token expired"})
        for _ in range(3):  # 3 x 500 s of activity: longer than one lifetime, each step inside it
            traveller.shift(500)
            assert client.get("/me/payments/").status_code == 200
        traveller.shift(601)  # idle longer than the lifetime
        assert client.get("/me/payments/").status_code == 403
        assert SESSION_KEY not in client.session
        # Coming back with the same token asks the partner again, who refuses it now.
        sign_in(client, "tok-rev")
        assert client.get("/me/payments/").status_code == 403
    assert len(partner_api.calls) == 2


def test_the_session_needs_no_cache(client, partner_api):
    """The verified identity lives in the session: another process's empty cache changes nothing."""
    from django.core.cache import cache

    add_token(partner_api, "tok-good", json=verify_ok("user@example.com"))
    sign_in(client, "tok-good")
    cache.clear()
    assert client.get("/me/payments/").status_code == 200
    assert len(partner_api.calls) == 1


def test_a_failing_cache_costs_a_partner_call_not_a_500(client, partner_api, shop, monkeypatch):
    from django.core.cache import cache

    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get", broken)
    monkeypatch.setattr(cache, "set", broken)
    add_token(partner_api, "tok-good", json=verify_ok("user@example.com"))
    for _ in range(2):
        response = sign_in(client, "tok-good", "/s/lotus/")
        assert response.status_code == 302 and response["Location"] == "/s/lotus/"
        assert client.session[SESSION_KEY]["uid"] == "user@example.com"
    assert client.get("/me/payments/").status_code == 200
    assert len(partner_api.calls) == 2  # nothing cached, so each entry asked the partner


def test_forged_session_is_not_trusted(client, partner_on):
    session = client.session
    session[SESSION_KEY] = {"uid": "victim@example.com", "th": "0" * 64, "at": int(time.time()), "sig": "forged"}
    session.save()
    assert client.get("/me/payments/").status_code == 403
    assert SESSION_KEY not in client.session  # dropped, not kept around


def test_an_expiry_pushed_without_the_signature_is_not_trusted(client, partner_api):
    add_token(partner_api, "tok-good", json=verify_ok("user@example.com"))
    sign_in(client, "tok-good")
    session = client.session
    session[SESSION_KEY] = {**session[SESSION_KEY], "exp": session[SESSION_KEY]["exp"] + 10**6}
    session.save()
    assert client.get("/me/payments/").status_code == 403


def test_a_correctly_signed_but_expired_session_is_not_trusted(client, partner_on):
    from orders.partner_session import _signature

    now = int(time.time())
    session = client.session
    session[SESSION_KEY] = {"uid": "victim@example.com", "th": "a" * 64, "at": now - 100, "exp": now - 1,
                            "sig": _signature("victim@example.com", "a" * 64, now - 100, now - 1)}
    session.save()
    assert client.get("/me/payments/").status_code == 403


def test_tampered_user_id_is_not_trusted(client, partner_api):
    add_token(partner_api, "tok-good", json=verify_ok("user@example.com"))
    sign_in(client, "tok-good")
    session = client.session
    session[SESSION_KEY] = {**session[SESSION_KEY], "uid": "other@example.com"}
    session.save()
    assert client.get("/me/payments/").status_code == 403


def test_feature_off_strips_the_token_and_hides_me_pages(client, settings, shop):
    settings.PARTNER_VERIFY_URL = ""
    response = client.get("/s/lotus/?partner_token=tok-any")
    assert response.status_code == 302 and response["Location"] == "/s/lotus/"
    assert client.get("/me/payments/").status_code == 404


def test_entry_redirect_never_leaves_the_site(client, partner_api):
    add_token(partner_api, "tok-good", json=verify_ok("user@example.com"))
    response = client.get("//evil.example/?partner_token=tok-good")
    assert response["Location"].startswith("/") and not response["Location"].startswith("//")


def test_api_paths_are_left_alone(client, partner_api):
    response = client.get("/api/v1/orders/?partner_token=tok-good")
    assert response.status_code == 401  # the API's own answer, no redirect, no partner call
    assert len(partner_api.calls) == 0

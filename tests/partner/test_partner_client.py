"""PartnerClient: server-to-server verification of a super-app user token."""
import logging

import pytest
import requests
from django.core.cache import cache

from orders.partner import PartnerClient, PartnerUnavailable, token_hash
from tests.partner.conftest import API_KEY, add_token, verify_ok

pytestmark = pytest.mark.django_db


def test_valid_token_gives_user_id_and_sends_token_and_key_headers(partner_api):
    add_token(partner_api, "tok-good", json=verify_ok("user@example.com"))
    result = PartnerClient().verify("tok-good")
    assert result.ok and result.user_id == "user@example.com"
    sent = partner_api.calls[0].request.headers
    assert sent["miniapp-user-token"] == "tok-good"
    assert sent["x-api-key"] == API_KEY


def test_success_false_is_refused(partner_api):
    add_token(partner_api, "tok-expired", status=401,
              json={"status_code": 401, "result": "Token expired", "success": False, "data": None})
    assert not PartnerClient().verify("tok-expired").ok


@pytest.mark.parametrize("body", [
    {"success": True, "data": {}},
    {"success": True, "data": {"id": ""}},
    {"success": True, "data": {"id": "   "}},
    {"success": True, "data": {"id": 42}},
    {"success": True},
    {"success": "true", "data": {"id": "user@example.com"}},   # must be the JSON true, not a string
    {"success": 1, "data": {"id": "user@example.com"}},
    ["not", "an", "object"],
])
def test_success_without_a_usable_data_id_is_refused(partner_api, body):
    add_token(partner_api, "tok-odd", json=body)
    assert not PartnerClient().verify("tok-odd").ok


@pytest.mark.parametrize("kwargs", [
    {"status": 500, "json": {"error": "boom"}},
    {"status": 503, "body": "upstream down"},
    {"status": 200, "body": "<html>not json</html>"},
    {"status": 200, "body": "[" * 100_000 + "]" * 100_000},  # RecursionError in json, not a 500
    {"error": requests.ConnectTimeout("slow")},
    {"error": requests.ReadTimeout("slow")},
    {"error": requests.ConnectionError("refused")},
])
def test_timeouts_5xx_and_bad_json_are_partner_unavailable_and_not_cached(partner_api, kwargs):
    add_token(partner_api, "tok-x", **kwargs)
    with pytest.raises(PartnerUnavailable):
        PartnerClient().verify("tok-x")
    assert cache.get(f"partner:verify:{token_hash('tok-x')}") is None  # the next try asks again


def test_result_is_cached_by_token_hash_never_by_token(partner_api):
    add_token(partner_api, "tok-cache", json=verify_ok("user@example.com"))
    assert PartnerClient().verify("tok-cache").user_id == "user@example.com"
    assert PartnerClient().verify("tok-cache").user_id == "user@example.com"
    assert len(partner_api.calls) == 1
    assert cache.get(f"partner:verify:{token_hash('tok-cache')}")["id"] == "user@example.com"
    if isinstance(getattr(cache, "_cache", None), dict):  # LocMemCache: look at every stored key
        keys = list(cache._cache.keys())
        assert keys and not any("tok-cache" in key for key in keys)


def test_refusals_are_cached_too(partner_api):
    add_token(partner_api, "tok-bad", status=401, json={"success": False})
    PartnerClient().verify("tok-bad")
    PartnerClient().verify("tok-bad")
    assert len(partner_api.calls) == 1


@pytest.mark.parametrize("token", ["", "a\r\nx-evil: 1", "ü-token", "x" * 5000])
def test_malformed_tokens_are_refused_without_calling_the_partner(partner_api, token):
    assert not PartnerClient().verify(token).ok
    assert len(partner_api.calls) == 0


def test_the_token_is_never_logged(partner_api, caplog):
    secret = "tok-very-secret-123"
    add_token(partner_api, secret, json=verify_ok("user@example.com"))
    add_token(partner_api, secret + "-500", status=500, json={})
    with caplog.at_level(logging.DEBUG):
        PartnerClient().verify(secret)
        with pytest.raises(PartnerUnavailable):
            PartnerClient().verify(secret + "-500")
    assert caplog.records, "verification should log something"
    for record in caplog.records:
        assert secret not in record.getMessage()
        assert secret not in repr(record.__dict__)

"""bench/api.py's baselines measure what they claim: the floor authenticates, throttles and
runs one statement in a transaction; the bare view does none of it."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIRequestFactory

from bench.bare_view import BareApi, FloorApi
from sellers.api_auth import ApiKeyRateThrottle
from sellers.services import api_key_create

pytestmark = pytest.mark.django_db


def _post(view, key: str | None = None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    request = APIRequestFactory().post("/api/v1/bench/x/", {"method": "nano"}, format="json", **headers)
    return view.as_view()(request)


def test_floor_refuses_a_request_without_a_key():
    assert _post(FloorApi).status_code == 401


@pytest.mark.postgres  # the floor measures what the API runs on: PostgreSQL
def test_floor_reads_the_key_then_runs_one_statement_in_a_transaction(seller):
    _, key = api_key_create(seller=seller)
    with CaptureQueriesContext(connection) as queries:
        response = _post(FloorApi, key)
    assert response.status_code == 201
    sql = [query["sql"] for query in queries.captured_queries]
    assert "sellers_apikey" in sql[0]
    assert [statement for statement in sql if statement.startswith("SELECT 1")]


@pytest.mark.postgres
def test_floor_is_throttled_per_key(seller, monkeypatch):
    monkeypatch.setattr(ApiKeyRateThrottle, "rate", "2/min", raising=False)
    _, key = api_key_create(seller=seller)
    assert [_post(FloorApi, key).status_code for _ in range(3)] == [201, 201, 429]


def test_bare_view_needs_no_key_and_no_database():
    with CaptureQueriesContext(connection) as queries:
        response = _post(BareApi)
    assert response.status_code == 201
    assert queries.captured_queries == []

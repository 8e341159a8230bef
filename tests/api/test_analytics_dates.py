"""Dates the summary cannot sensibly cover are a 400, never an overflow (found by schemathesis)."""
import pytest

from tests.api.conftest import client_for


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["from=8787-12-31", "from=9999-12-31", "to=0001-01-01",
                                   "from=0001-01-01&to=9999-12-31", "from=2026-01-01&to=9999-12-31"])
def test_out_of_range_dates_are_a_clear_400(seller, query):
    response = client_for(seller).get(f"/api/v1/analytics/summary?{query}")
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "invalid_request" and ("from" in body["fields"] or "to" in body["fields"])


@pytest.mark.django_db
def test_a_future_from_without_to_is_refused(seller):
    response = client_for(seller).get("/api/v1/analytics/summary?from=2099-01-01")
    assert response.status_code == 400 and "after" in response.json()["error"]["fields"]["from"][0]

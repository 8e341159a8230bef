"""Extreme dates on the overview and the lists show a message, never a 500."""
import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("query", ["range=custom&from=9999-12-31&to=9999-12-31",
                                   "range=custom&from=0001-01-01&to=0001-01-02",
                                   "range=custom&from=2026-05-01&to=2026-01-01",
                                   "range=custom&from=nonsense&to=2026-01-01"])
def test_bad_custom_ranges_are_handled(client, seller_user, query):
    client.force_login(seller_user, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get(f"/dashboard/?{query}")
    assert response.status_code in (200, 400)


@pytest.mark.parametrize("path", ["/dashboard/orders/", "/dashboard/payments/"])
@pytest.mark.parametrize("query", ["date_from=0001-01-01", "date_to=9999-12-31", "date_from=9999-12-31",
                                   "date_from=0001-01-01&date_to=9999-12-31"])
def test_list_dates_outside_the_window_are_a_field_error(client, seller_user, path, query):
    """A year-1 day in the seller's zone (ahead of UTC) or the day after 9999-12-31 was an OverflowError (500)."""
    client.force_login(seller_user, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get(f"{path}?{query}")
    assert response.status_code == 200
    assert "Use a date between 2000-01-01 and 2100-12-31." in response.content.decode()
    export = client.get(f"{path}?{query}&export=csv")
    assert export.status_code == 200
    assert b"".join(export.streaming_content).startswith((b"order_id,", b"payment_id,"))

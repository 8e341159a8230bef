"""Orders list: filters, search, whitelisted sorting, pagination and the streamed CSV export."""
import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.http import StreamingHttpResponse
from django.utils import timezone

from payments.selectors_dashboard import PAGE_SIZE
from tests.sellers.dashboard_helpers import login, open_order, paid_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def orders(seller):
    now = timezone.now()
    a, _ = paid_order(seller, amount=10000, reference="A-cheap", method="razorpay", at=now - timedelta(days=1))
    b, _ = paid_order(seller, amount=90000, reference="B-dear", method="nano", at=now - timedelta(days=3))
    c, _ = open_order(seller, amount=50000, status="expired", payment_status="expired", method="coinpay",
                      at=now - timedelta(days=20))
    c.reference = "C-expired"
    c.save()
    return a, b, c


def _get(client, **params):
    return client.get("/dashboard/orders/", params)


def test_filters(client, seller_user, orders):
    login(client, seller_user)
    body = lambda **p: _get(client, **p).content.decode()  # noqa: E731
    assert "C-expired" in body(status="expired") and "A-cheap" not in body(status="expired")
    assert "B-dear" in body(method="nano") and "A-cheap" not in body(method="nano")
    filtered = body(amount_min="400", amount_max="1000")
    assert "B-dear" in filtered and "C-expired" in filtered and "A-cheap" not in filtered
    week_ago = (timezone.now() - timedelta(days=7)).date().isoformat()
    recent = body(date_from=week_ago)
    assert "A-cheap" in recent and "B-dear" in recent and "C-expired" not in recent


def test_bad_filter_values_are_reported_not_500(client, seller_user, orders):
    login(client, seller_user)
    response = _get(client, amount_min="12.345", date_from="yesterday", status="bogus", sort="password")
    assert response.status_code == 200
    body = response.content.decode()
    assert "INR amounts have at most 2 decimal places" in body
    assert "A-cheap" in body  # the bad filters are ignored, the rest still works


def test_sorting_is_whitelisted_and_flips(client, seller_user, orders):
    login(client, seller_user)
    body = _get(client, sort="amount").content.decode()
    assert body.index("A-cheap") < body.index("C-expired") < body.index("B-dear")
    body = _get(client, sort="-amount").content.decode()
    assert body.index("B-dear") < body.index("C-expired") < body.index("A-cheap")
    body = _get(client, sort="customer_email").content.decode()  # not whitelisted: default order
    assert body.index("A-cheap") < body.index("B-dear") < body.index("C-expired")
    assert "sort=-amount" in _get(client, sort="amount").content.decode()  # the header link flips it


def test_pagination_without_count(client, seller, seller_user):
    for i in range(PAGE_SIZE + 3):
        open_order(seller, amount=100 + i)
    login(client, seller_user)
    first = _get(client).content.decode()
    assert f"Showing 1–{PAGE_SIZE}" in first and 'rel="next"' in first
    second = _get(client, page=2).content.decode()
    assert f"Showing {PAGE_SIZE + 1}–{PAGE_SIZE + 3}" in second and 'rel="next"' not in second
    assert _get(client, page="abc").status_code == 200


def test_csv_export_streams_the_filtered_set(client, seller, seller_user, orders):
    seller_order = orders[0]
    seller_order.reference = "=HYPERLINK(\"http://evil\")"
    seller_order.save()
    login(client, seller_user)
    response = _get(client, status="paid", export="csv")
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:6] == ["order_id", "created_at", "reference", "status", "currency", "amount"]
    assert {r[3] for r in rows[1:]} == {"paid"} and len(rows) == 3
    by_id = {r[0]: r for r in rows[1:]}
    cheap = by_id[str(seller_order.pk)]
    assert cheap[5] == "100.00" and cheap[2].startswith("'=")  # exact major units; formula defused
    assert cheap[1].endswith("+05:30")  # seller's timezone
    assert cheap[11] == "razorpay" and cheap[12].startswith("tx_")


def test_csv_export_uses_an_iterator(monkeypatch, client, seller_user, orders):
    """Rows are pulled in chunks from a cursor, never as one list."""
    from django.db.models.query import QuerySet

    calls = []
    original = QuerySet.iterator

    def spy(self, chunk_size=None):
        calls.append(chunk_size)
        return original(self, chunk_size=chunk_size)

    monkeypatch.setattr(QuerySet, "iterator", spy)
    login(client, seller_user)
    b"".join(_get(client, export="csv").streaming_content)
    assert calls == [2000]


def test_times_use_seller_timezone_for_date_filters(client, seller, seller_user):
    # 19:00 UTC on 1 Mar is 00:30 on 2 Mar in Kolkata: it belongs to 2 Mar.
    paid_order(seller, reference="LATE", at=datetime(2026, 3, 1, 19, 0, tzinfo=UTC))
    login(client, seller_user)
    assert "LATE" in _get(client, date_from="2026-03-02", date_to="2026-03-02").content.decode()
    assert "LATE" not in _get(client, date_from="2026-03-01", date_to="2026-03-01").content.decode()


def test_payments_list_filters_and_search(client, seller_user, orders):
    login(client, seller_user)
    body = client.get("/dashboard/payments/", {"method": "nano"}).content.decode()
    assert "B-dear" in body and "A-cheap" not in body and "C-expired" not in body
    body = client.get("/dashboard/payments/", {"status": "expired"}).content.decode()
    assert "C-expired" in body and "B-dear" not in body
    a_payment = orders[0].payments.get()
    body = client.get("/dashboard/payments/", {"q": a_payment.tx_id}).content.decode()
    assert "A-cheap" in body and "B-dear" not in body
    body = client.get("/dashboard/payments/", {"sort": "amount"}).content.decode()
    assert body.index("A-cheap") < body.index("C-expired") < body.index("B-dear")

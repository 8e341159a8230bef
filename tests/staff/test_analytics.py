"""/admin/analytics/: figures equal a plain recomputation over the raw rows, days cut in the
chosen time zone, CSV export, sorting, permissions and a constant number of queries."""
import csv
import io
import random
import zoneinfo
from datetime import UTC, date, datetime, timedelta

import pytest
from django.urls import reverse

from orders.models import Order
from payments.models import LedgerEntry, Payment
from payments.selectors_staff import DateRange, gmv_by_day, method_rates, platform_totals, seller_table
from payments.services import ledger_record_payment
from tests.factories import OrderFactory, PaymentFactory, SellerFactory

pytestmark = pytest.mark.django_db
UTC = UTC
STATUSES = ["completed", "completed", "refunded", "expired", "pending", "failed", "cancelled"]


def _payment(seller, method, status, created, currency="INR", amount=None):
    order = OrderFactory(seller=seller, currency=currency, amount=amount or random.randint(100, 900_000),
                         created_at=created)
    payment = PaymentFactory(order=order, method=method, status=status, created_at=created,
                             amount_reserved=False, pay_to=f"addr-{order.pk}",
                             review_status="open" if status == "expired" and random.random() < .3 else "")
    if status in Payment.PAID_STATUSES:
        payment.completed_at = created + timedelta(minutes=random.randint(0, 90))
        payment.save(update_fields=["completed_at"])
        ledger_record_payment(payment=payment)
    return payment


@pytest.fixture
def seeded():
    random.seed(7)
    sellers = [SellerFactory(fee_bps=fee) for fee in (None, 100, 333)]
    start = datetime(2026, 3, 1, tzinfo=UTC)
    for n in range(150):
        created = start + timedelta(minutes=random.randint(0, 12 * 24 * 60))
        _payment(random.choice(sellers), random.choice(["nano", "razorpay", "coinpay"]), random.choice(STATUSES),
                 created, currency=random.choice(["INR", "INR", "USD"]))
    # On the boundary: 18:45 UTC on 4 March is 00:15 on 5 March in India.
    edge = _payment(sellers[0], "razorpay", "completed", datetime(2026, 3, 4, 18, 40, tzinfo=UTC), amount=12345)
    edge.completed_at = datetime(2026, 3, 4, 18, 45, tzinfo=UTC)
    edge.save(update_fields=["completed_at"])
    return sellers


def expected(rng: DateRange, currency: str):
    """The same figures, straight from the rows in Python."""
    sales = [e for e in LedgerEntry.objects.select_related("payment") if e.kind == "payment"
             and e.currency == currency and rng.start <= e.payment.completed_at < rng.end]
    started = [p for p in Payment.objects.all() if rng.start <= p.created_at < rng.end]
    days: dict = {}
    for e in sales:
        day = e.payment.completed_at.astimezone(zoneinfo.ZoneInfo(rng.tz_name)).date()
        days.setdefault(e.method, {}).setdefault(day, 0)
        days[e.method][day] += e.gross
    return {
        "gmv": sum(e.gross for e in sales), "fees": sum(e.fee for e in sales), "net": sum(e.net for e in sales),
        "days": days, "started": started, "sales": sales,
    }


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kolkata", "America/Los_Angeles"])
@pytest.mark.parametrize("currency", ["INR", "USD"])
def test_figures_equal_recomputation(seeded, tz, currency):
    rng = DateRange(date(2026, 3, 3), date(2026, 3, 8), tz)
    want = expected(rng, currency)
    totals = platform_totals(rng, currency)
    assert (totals["gmv"], totals["fees"], totals["net"]) == (want["gmv"], want["fees"], want["net"])
    assert totals["gmv"] == totals["fees"] + totals["net"] and totals["gmv"] > 0
    assert gmv_by_day(rng, currency) == want["days"]

    rates = {row["method"]: row for row in method_rates(rng)}
    for method in ("nano", "razorpay", "coinpay"):
        mine = [p for p in want["started"] if p.method == method]
        assert rates[method]["started"] == len(mine)
        assert rates[method]["paid"] == sum(p.status in Payment.PAID_STATUSES for p in mine)
        assert rates[method]["expired"] == sum(p.status == "expired" for p in mine)

    for row in seller_table(rng, currency):
        mine = [p for p in want["started"] if p.seller_id == row.pk and p.currency == currency]
        assert row.volume == sum(e.gross for e in want["sales"] if e.seller_id == row.pk)
        assert row.payments_started == len(mine)
        assert row.paid == sum(p.status in Payment.PAID_STATUSES for p in mine)
        assert row.pending == sum(p.status in Payment.ACTIVE_STATUSES for p in mine)
        assert row.exceptions == sum(p.review_status != "" for p in mine)
        assert row.orders_count == sum(rng.start <= o.created_at < rng.end
                                      for o in Order.objects.filter(seller=row, currency=currency))


def test_timezone_moves_the_boundary_sale_to_the_next_day(seeded):
    utc = gmv_by_day(DateRange(date(2026, 3, 4), date(2026, 3, 5), "UTC"), "INR")["razorpay"]
    india = gmv_by_day(DateRange(date(2026, 3, 4), date(2026, 3, 5), "Asia/Kolkata"), "INR")["razorpay"]
    only_utc_4th = platform_totals(DateRange(date(2026, 3, 4), date(2026, 3, 4), "UTC"), "INR")["gmv"]
    only_ist_4th = platform_totals(DateRange(date(2026, 3, 4), date(2026, 3, 4), "Asia/Kolkata"), "INR")["gmv"]
    assert utc != india
    assert only_utc_4th != only_ist_4th


def _page(client, **params):
    return client.get(reverse("staff-analytics"), {"start": "2026-03-01", "end": "2026-03-12", **params})


def test_page_shows_totals_and_sorts(seeded, client, support):
    client.force_login(support)
    response = _page(client, tz="Asia/Kolkata", currency="INR", sort="-orders")
    assert response.status_code == 200
    rng = DateRange(date(2026, 3, 1), date(2026, 3, 12), "Asia/Kolkata")
    from sellers.money import format_minor
    html = response.content.decode()
    assert format_minor(platform_totals(rng, "INR")["gmv"], "INR") in html
    orders = [s.orders_count for s in response.context["sellers"]]
    assert orders == sorted(orders, reverse=True)
    assert 'id="gmv-by-day"' in html and 'id="top-sellers"' in html and "js/kassa.js" in html


def test_csv_export_matches_table(seeded, client, support):
    client.force_login(support)
    response = _page(client, currency="INR", export="csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    rng = DateRange(date(2026, 3, 1), date(2026, 3, 12), "UTC")
    by_slug = {s.slug: s for s in seller_table(rng, "INR")}
    assert len(rows) == 3
    from sellers.money import format_major
    for row in rows:
        assert row["volume_INR"] == format_major(by_slug[row["slug"]].volume, "INR")
        assert int(row["orders"]) == by_slug[row["slug"]].orders_count


def test_csv_cells_a_seller_controls_never_run_as_formulas(client, support):
    """A store named "=HYPERLINK(…)" went into the staff CSV as is: a formula in the spreadsheet (CSV injection)."""
    SellerFactory(name='=HYPERLINK("https://evil.example","Open")', default_currency="INR")
    client.force_login(support)
    rows = list(csv.DictReader(io.StringIO(_page(client, currency="INR", export="csv").content.decode())))
    assert [row["seller"] for row in rows] == ["'=HYPERLINK(\"https://evil.example\",\"Open\")"]


def test_bad_filters_show_an_error_not_a_500(client, support):
    client.force_login(support)
    response = client.get(reverse("staff-analytics"), {"start": "2026-13-40", "tz": "Mars/Base"})
    assert response.status_code == 200
    assert b"not a known time zone" in response.content


@pytest.mark.parametrize("params", [{"end": "9999-12-31"}, {"end": "0001-01-01"},
                                    {"start": "9999-12-25", "end": "9999-12-31"}, {"start": "0001-01-01"}])
def test_dates_outside_the_window_are_an_error_not_a_500(client, support, params):
    """The day after 9999-12-31, or 29 days before 0001-01-01, was an OverflowError (500)."""
    client.force_login(support)
    for query in (params, {**params, "export": "csv"}):
        response = client.get(reverse("staff-analytics"), query)
        assert response.status_code == 200
    assert "Use a date between 2000-01-01 and 2100-12-31." in _page_text(client, params)


def test_a_start_without_an_end_keeps_the_span_limit(client, support):
    """Only "From" ran to today: from 2000-01-01 a chart of ~9,800 days (from year 1, 740,000)."""
    client.force_login(support)
    html = _page_text(client, {"start": "2000-01-01"})
    assert "Choose at most 366 days." in html
    assert len(client.get(reverse("staff-analytics"), {"start": "2000-01-01"}).context["rng"].days()) == 30


def _page_text(client, params) -> str:
    return client.get(reverse("staff-analytics"), params).content.decode()


def test_needs_view_permission(client, db):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("bare", "b@example.com", "x", is_staff=True)
    client.force_login(user)
    assert client.get(reverse("staff-analytics")).status_code == 403
    client.logout()
    assert client.get(reverse("staff-analytics")).status_code == 302


def test_query_count_is_constant(client, support, django_assert_max_num_queries):
    client.force_login(support)
    random.seed(1)
    sellers = [SellerFactory() for _ in range(2)]
    for n in range(6):
        _payment(sellers[n % 2], "razorpay", "completed", datetime(2026, 3, 2, tzinfo=UTC))
    with django_assert_max_num_queries(12) as small:
        _page(client)
    more = [SellerFactory() for _ in range(6)]
    for n in range(40):
        _payment(more[n % 6], random.choice(["nano", "coinpay"]), random.choice(STATUSES),
                 datetime(2026, 3, 3, tzinfo=UTC))
    with django_assert_max_num_queries(len(small.captured_queries)) :
        _page(client)


def test_one_currency_never_shows_another_currencys_seller_as_zero(client, support):
    """Selecting INR used to list a USD-only seller as ₹0.00 with all its (USD) orders counted."""
    start = datetime(2026, 3, 2, 10, tzinfo=UTC)
    india, oslo = SellerFactory(name="Asha", default_currency="INR"), SellerFactory(name="Nordic",
                                                                                    default_currency="USD")
    for _ in range(3):
        _payment(oslo, "razorpay", "completed", start, currency="USD", amount=2800)
    _payment(india, "razorpay", "completed", start, currency="INR", amount=179800)
    _payment(india, "razorpay", "completed", start, currency="USD", amount=1000)  # India sells in USD once
    rng = DateRange(date(2026, 3, 1), date(2026, 3, 12), "UTC")
    inr = {row.name: row for row in seller_table(rng, "INR")}
    assert set(inr) == {"Asha"} and inr["Asha"].orders_count == 1 and inr["Asha"].volume == 179800
    usd = {row.name: row for row in seller_table(rng, "USD")}
    assert set(usd) == {"Asha", "Nordic"}
    assert (usd["Nordic"].orders_count, usd["Nordic"].volume) == (3, 8400)
    assert (usd["Asha"].orders_count, usd["Asha"].volume) == (1, 1000)
    client.force_login(support)
    html = _page(client, currency="INR").content.decode()
    assert f'data-seller="{oslo.slug}"' not in html and "₹1,798.00" in html

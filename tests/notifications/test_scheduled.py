"""Scheduled emails: the sellers' daily digest and weekly report, the staff review digest; once per period."""
import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from notifications.models import OutboxEmail, SellerEmailSettings
from payments.notice_reports import order_paid_digests_queue, review_digest_queue, weekly_reports_queue
from tests.factories import MembershipFactory, OrderFactory, PaymentFactory, SellerFactory, UserFactory

pytestmark = pytest.mark.django_db
KOLKATA = ZoneInfo("Asia/Kolkata")


@pytest.fixture
def seller():
    seller = SellerFactory(name="Asha Prints", slug="asha", timezone="Asia/Kolkata")
    MembershipFactory(seller=seller, user=UserFactory(username="owner", email="owner@asha.example"))
    return seller


def test_daily_digest_lists_yesterdays_paid_orders_once(seller):
    SellerEmailSettings.objects.create(seller=seller, order_paid_mode="digest")
    now = datetime(2026, 12, 8, 0, 30, tzinfo=KOLKATA)  # just after the seller's midnight
    yesterday = datetime(2026, 12, 7, 15, 0, tzinfo=KOLKATA)
    OrderFactory(seller=seller, reference="D-1", status="paid", paid_at=yesterday, amount=10_000)
    OrderFactory(seller=seller, reference="D-2", status="paid", paid_at=yesterday, amount=2_550)
    OrderFactory(seller=seller, reference="TODAY", status="paid", paid_at=now)
    other = SellerFactory()  # each-order sellers get no digest
    OrderFactory(seller=other, status="paid", paid_at=yesterday)
    assert order_paid_digests_queue(now=now) == 1
    assert order_paid_digests_queue(now=now + timedelta(hours=1)) == 0
    digest = OutboxEmail.objects.get(kind="order_paid_digest")
    assert digest.key == f"order_paid_digest:seller:{seller.pk}:2026-12-07"
    assert digest.to == ["owner@asha.example"] and "2 orders paid" in digest.subject
    assert "D-1" in digest.text and "D-2" in digest.text and "TODAY" not in digest.text and "₹125.50" in digest.text


def test_weekly_report_has_the_figures_and_the_orders_csv_once_per_week(seller):
    now = datetime(2026, 12, 7, 1, 0, tzinfo=KOLKATA)  # Monday: the report covers Nov 30 – Dec 6
    in_week = datetime(2026, 12, 2, 12, 0, tzinfo=KOLKATA)
    order = OrderFactory(seller=seller, reference="=HYPERLINK(1)", created_at=in_week)
    PaymentFactory(order=order, status="completed", completed_at=in_week)
    OrderFactory(seller=seller, reference="LAST-WEEK", created_at=in_week - timedelta(days=7))
    assert weekly_reports_queue(now=now) == 1
    assert weekly_reports_queue(now=now + timedelta(days=2)) == 0
    report = OutboxEmail.objects.get(kind="weekly_report")
    assert report.key == f"weekly_report:seller:{seller.pk}:2026-W49"
    assert "30 Nov – 06 Dec 2026" in report.subject and "Orders created: 1" in report.text
    [attachment] = report.attachments
    rows = list(csv.reader(io.StringIO(attachment["content"])))
    assert rows[0][:3] == ["order_id", "created_at", "reference"] and len(rows) == 2
    assert rows[1][2] == "'=HYPERLINK(1)"  # the dashboard export's spreadsheet-injection guard
    assert attachment["mimetype"] == "text/csv"


def test_weekly_report_turned_off_is_not_sent(seller):
    SellerEmailSettings.objects.create(seller=seller, disabled_kinds=["weekly_report"])
    assert weekly_reports_queue() == 0


def test_staff_digest_counts_the_review_queue_by_kind_once_a_day(settings, seller):
    settings.STAFF_DIGEST_EMAILS = ["ops@kassa.example"]
    now = timezone.now().replace(hour=12, minute=0)  # an hour later is the same UTC day (it failed at 23:15)
    assert review_digest_queue(now=now) is False  # nothing waits: no email
    payment = PaymentFactory(order=OrderFactory(seller=seller), status="expired", exceptions=["paid_late"],
                             review_status="open")
    type(payment).objects.filter(pk=payment.pk).update(created_at=now - timedelta(days=2, hours=3))
    assert review_digest_queue(now=now) is True
    assert review_digest_queue(now=now + timedelta(hours=1)) is False
    digest = OutboxEmail.objects.get(kind="review_digest")
    assert digest.to == ["ops@kassa.example"] and "1 item waiting" in digest.subject
    assert "Payments with exceptions: 1 (oldest 2 d 3 h)" in digest.text

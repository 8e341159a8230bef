"""Payments CSV, refunded/fee/net columns in both CSVs, list totals, overview links, the payment page."""
import csv
import io

import pytest

from payments.models import LedgerEntry, Refund
from payments.money import fee_split
from tests import factories
from tests.sellers.dashboard_helpers import login, open_order, paid_order

pytestmark = pytest.mark.django_db


def _csv(response) -> list[dict]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def _refund(seller, payment, amount):
    """A succeeded refund as payment_refund leaves it: the row, the payment total and the negative entry."""
    refund = Refund.objects.create(payment=payment, seller=seller, amount=amount, status="succeeded")
    payment.refunded_amount += amount
    payment.status = "partially_refunded" if payment.refunded_amount < payment.amount else "refunded"
    payment.save()
    LedgerEntry.objects.create(seller=seller, payment=payment, refund=refund, kind="refund", custody="platform",
                               method=payment.method, currency=payment.currency, gross=-amount, fee=0, net=-amount,
                               fee_bps=0)
    return refund


def test_payments_list_exports_csv_with_refunded_fee_and_net(client, seller, seller_user):
    order, payment = paid_order(seller, amount=49900, reference="R-1")
    _refund(seller, payment, 10000)
    open_order(seller)
    other, _ = paid_order(factories.SellerFactory(), amount=777)  # never in this seller's export
    login(client, seller_user)
    rows = _csv(client.get("/dashboard/payments/?export=csv"))
    assert len(rows) == 2
    row = next(r for r in rows if r["payment_id"] == str(payment.pk))
    split = fee_split(49900, 250)
    assert (row["order_id"], row["reference"], row["status"]) == (str(order.pk), "R-1", "partially_refunded")
    assert (row["amount"], row["refunded"], row["fee"]) == ("499.00", "100.00", f"{split.fee / 100:.2f}")
    assert row["net"] == f"{(split.net - 10000) / 100:.2f}"  # the platform keeps its fee on refunds
    filtered = _csv(client.get("/dashboard/payments/?status=pending&export=csv"))
    assert [r["status"] for r in filtered] == ["pending"]
    assert str(other.pk) not in str(rows)


def test_orders_csv_gains_refunded_fee_and_net(client, seller, seller_user):
    order, payment = paid_order(seller, amount=10000)
    _refund(seller, payment, 2500)
    rows = _csv(login(client, seller_user).get("/dashboard/orders/?export=csv"))
    split = fee_split(10000, 250)
    assert rows[0]["order_id"] == str(order.pk)
    assert (rows[0]["refunded"], rows[0]["fee"], rows[0]["net"]) == (
        "25.00", f"{split.fee / 100:.2f}", f"{(split.net - 2500) / 100:.2f}")


@pytest.mark.parametrize("n", [1, 30])
@pytest.mark.parametrize("url", ["/dashboard/payments/?export=csv", "/dashboard/orders/?export=csv"])
def test_csv_exports_have_constant_queries(client, seller, seller_user, django_assert_max_num_queries, url, n):
    for _ in range(n):
        paid_order(seller)
    login(client, seller_user)
    with django_assert_max_num_queries(6):  # session, user, membership, savepoints, one SELECT for the rows
        assert len(_csv(client.get(url))) == n


def test_lists_show_a_total_count(client, seller, seller_user):
    for _ in range(27):
        paid_order(seller)
    open_order(seller)
    login(client, seller_user)
    assert "28 payments" in client.get("/dashboard/payments/").content.decode()
    assert "28 orders" in client.get("/dashboard/orders/").content.decode()
    assert "1 payment" in client.get("/dashboard/payments/?status=pending").content.decode()


def test_overview_figures_link_to_the_filtered_lists(client, seller, seller_user):
    paid_order(seller)
    open_order(seller)
    body = login(client, seller_user).get("/dashboard/?range=30d").content.decode()
    assert 'href="/dashboard/payments/?status=any_paid&amp;currency=INR&amp;date_from=' in body
    assert 'href="/dashboard/orders/?status=any_paid&amp;currency=INR&amp;date_from=' in body
    assert 'href="/dashboard/payments/?status=pending"' in body
    paid = client.get("/dashboard/payments/?status=any_paid").content.decode()
    assert "1 payment" in paid


def test_payment_detail_shows_fee_net_receipts_refunds_and_timeline(client, seller, seller_user):
    order, payment = paid_order(seller, amount=49900)
    factories.ReceiptFactory(payment=payment, provider="razorpay", external_tx_id="pay_GATEWAY123", amount="49900",
                             state="confirmed")
    _refund(seller, payment, 10000)
    from payments.models import PaymentEvent

    PaymentEvent.objects.create(payment=payment, type="payment.completed", from_status="pending",
                                to_status="completed")
    login(client, seller_user)
    url = f"/dashboard/payments/{payment.pk}/"
    for page in ("/dashboard/payments/", "/dashboard/", f"/dashboard/orders/{order.pk}/"):
        assert f'href="{url}"' in client.get(page).content.decode(), page
    body = client.get(url).content.decode()
    split = fee_split(49900, 250)
    for text in ("pay_GATEWAY123", "₹100.00", "Completed", f"/dashboard/orders/{order.pk}/",
                 f"₹{split.fee / 100:,.2f}", f"₹{(split.net - 10000) / 100:,.2f}"):
        assert text in body, text


def test_payment_detail_is_tenant_isolated(client, seller_user):
    _, theirs = paid_order(factories.SellerFactory())
    assert login(client, seller_user).get(f"/dashboard/payments/{theirs.pk}/").status_code == 404


@pytest.mark.parametrize("n", [1, 30])
def test_payment_detail_has_constant_queries(client, seller, seller_user, django_assert_max_num_queries, n):
    _, payment = paid_order(seller)
    for i in range(n):
        factories.ReceiptFactory(payment=payment, provider="razorpay", external_tx_id=f"pay_{i}")
        Refund.objects.create(payment=payment, seller=seller, amount=1, status="failed")
    login(client, seller_user)
    with django_assert_max_num_queries(10):
        assert client.get(f"/dashboard/payments/{payment.pk}/").status_code == 200

"""Builders for dashboard tests: completed payments with their ledger row, a logged-in client."""
from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from payments.models import LedgerEntry, Payment
from payments.money import fee_split
from tests import factories


def paid_order(seller, *, amount=49900, currency="INR", method="razorpay", at: datetime | None = None,
               reference=None, email="shopper@example.com", fee_bps=250):
    """An order paid by one completed payment, with the ledger row a completion writes."""
    at = at or timezone.now()
    kwargs = {"reference": reference} if reference else {}
    order = factories.OrderFactory(seller=seller, amount=amount, currency=currency, status="paid", paid_at=at,
                                   customer_email=email, **kwargs)
    factory = factories.GatewayPaymentFactory if method != "nano" else factories.PaymentFactory
    payment = factory(order=order, method=method, status="completed", completed_at=at,
                      tx_id=f"tx_{order.pk.hex[:12]}")
    _backdate(order, payment, at)
    split = fee_split(amount, fee_bps)
    LedgerEntry.objects.create(seller=seller, payment=payment, kind="payment", custody="platform", method=method,
                               currency=currency, gross=split.gross, fee=split.fee, net=split.net, fee_bps=fee_bps,
                               created_at=at)
    return order, payment


def open_order(seller, *, amount=10000, currency="INR", status="open", payment_status="pending", method="nano",
               at=None):
    at = at or timezone.now()
    order = factories.OrderFactory(seller=seller, amount=amount, currency=currency, status=status)
    factory = factories.GatewayPaymentFactory if method != "nano" else factories.PaymentFactory
    payment = factory(order=order, method=method, status=payment_status)
    _backdate(order, payment, at)
    return order, payment


def _backdate(order, payment, at):
    type(order).objects.filter(pk=order.pk).update(created_at=at)
    Payment.objects.filter(pk=payment.pk).update(created_at=at)
    order.created_at = payment.created_at = at


def login(client, user):
    # UserFactory sets the password without saving it; the session hash must match the database.
    user.save()
    # The first backend is axes' standalone one, which cannot load users from a session.
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client

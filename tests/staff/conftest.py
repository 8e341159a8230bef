"""Staff admin fixtures: Support/Finance users, a fake provider, and payments in every
situation the review queue handles, all built through the real services."""
import itertools
from dataclasses import dataclass, field

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from orders.actors import Actor
from payments.money import RAW_PER_MICRO_XNO
from payments.providers.base import Observation, RefundResult
from payments.services import observation_apply, payment_expire_now
from payments.staff.groups import staff_groups_sync
from tests.factories import GatewayPaymentFactory, PaymentFactory, nano_address
from tests.services_patch import use_provider

_tx = itertools.count(1)


def next_tx() -> str:
    return f"{next(_tx):064X}"


def nano_send(payment, *, micro=None, confirmed=True, tx=None):
    """A confirmed Nano send to the payment's address, applied through observation_apply."""
    amount = (payment.amount_due if micro is None else micro) * RAW_PER_MICRO_XNO
    return observation_apply(observation=Observation(provider="nano", external_tx_id=tx or next_tx(),
                                                     amount=amount, confirmed=confirmed, pay_to=payment.pay_to))


def gateway_capture(payment, *, tx=None):
    return observation_apply(observation=Observation(provider=payment.method, external_tx_id=tx or next_tx(),
                                                     amount=payment.amount_due, confirmed=True,
                                                     payment_ref=str(payment.pk)))


@dataclass
class FakeProvider:
    """Stands in for every provider: poll returns what a test queued; refunds succeed."""

    start_is_local = False
    observations: list = field(default_factory=list)
    polled: list = field(default_factory=list)
    refunds: list = field(default_factory=list)

    def poll(self, payments):
        self.polled.append([p.pk for p in payments])
        ids = {str(p.pk) for p in payments}
        return [o for o in self.observations if o.payment_ref in ids]

    def refund_anchor(self, payment, shopper_account=""):
        """Nano refunds are sent by the seller: where to, above height 0."""
        from payments.providers.nano import RefundAnchor

        return RefundAnchor(payment.pay_to, shopper_account or nano_address("staff-shopper"), 0)

    def refund(self, payment, amount_minor, **kwargs):
        self.refunds.append((payment.pk, amount_minor))
        return RefundResult(provider_refund_id=f"rfnd_{len(self.refunds)}_{str(payment.pk)[:8]}", status="succeeded")


@pytest.fixture
def fake_provider(monkeypatch):
    provider = FakeProvider()
    use_provider(monkeypatch, lambda method: provider)
    monkeypatch.setattr("payments.staff.services.get_provider", lambda method: provider)
    return provider


def _staff(username, group=None, superuser=False):
    User = get_user_model()
    if superuser:
        return User.objects.create_superuser(username, f"{username}@example.com", "correct-horse-battery")
    user = User.objects.create_user(username, f"{username}@example.com", "correct-horse-battery", is_staff=True)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def groups(db):
    staff_groups_sync()


@pytest.fixture
def support(groups):
    return _staff("support", "Support")


@pytest.fixture
def finance(groups):
    return _staff("finance", "Finance")


@pytest.fixture
def admin_user(db):
    return _staff("root", superuser=True)


@pytest.fixture
def late_payment(db):
    """An expired Nano payment whose money arrived afterwards: exception paid_late, review open."""
    payment = PaymentFactory()
    payment_expire_now(payment=payment, actor=Actor.system("test"))
    nano_send(payment)
    payment.refresh_from_db()
    assert payment.exceptions == ["paid_late"] and payment.review_status == "open"
    return payment


@pytest.fixture
def completed_gateway_payment(db):
    payment = GatewayPaymentFactory()
    gateway_capture(payment)
    payment.refresh_from_db()
    assert payment.status == "completed"
    return payment


@pytest.fixture
def duplicate_payment(db):
    """A second Razorpay payment completing on an already-paid order."""
    first = GatewayPaymentFactory()
    gateway_capture(first)
    second = GatewayPaymentFactory(order=first.order)
    gateway_capture(second)
    second.refresh_from_db()
    assert "duplicate" in second.exceptions and second.review_status == "open"
    return second

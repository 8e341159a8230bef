"""Order status is written only by orders.services: every change a payment causes arrives through
order_transition (so it has its OrderEvent), and no other module assigns or updates Order.status."""
import ast
from datetime import timedelta
from pathlib import Path

import pytest

from orders.models import OrderEvent
from payments.money import RAW_PER_MICRO_XNO
from payments.providers.base import Observation
from payments.services import observation_apply, payment_expire_stale
from tests.factories import PaymentFactory, nano_address

ROOT = Path(__file__).resolve().parents[2]
APPS = ("config", "core", "sellers", "notifications", "webhooks", "orders", "payments")
WRITER = "orders/services.py"


def _complete(payment):
    observation_apply(observation=Observation(
        provider="nano", external_tx_id="B" * 64, amount=payment.amount_due * RAW_PER_MICRO_XNO, confirmed=True,
        source_account=nano_address("shopper"), pay_to=payment.pay_to))


@pytest.mark.django_db
def test_a_paid_order_got_its_status_through_order_transition():
    payment = PaymentFactory()
    _complete(payment)
    payment.order.refresh_from_db()
    assert payment.order.status == "paid"
    event = OrderEvent.objects.get(order=payment.order, type="order.paid")
    assert (event.from_status, event.to_status) == ("open", "paid")


@pytest.mark.django_db
def test_an_expired_order_has_its_event():
    payment = PaymentFactory()
    payment_expire_stale(now=payment.expires_at + timedelta(days=1))
    payment.order.refresh_from_db()
    assert payment.order.status == "expired"
    assert OrderEvent.objects.filter(order=payment.order, from_status="open", to_status="expired").count() == 1


def order_status_writes(source: str) -> list[tuple[str, int]]:
    """(enclosing function, line) of every `<order>.status = …` and `Order.objects….update(status=…)`."""
    found = []

    def visit(node, function=""):
        for child in ast.iter_child_nodes(node):
            name = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            if isinstance(child, (ast.Assign, ast.AugAssign)):
                targets = child.targets if isinstance(child, ast.Assign) else [child.target]
                for target in targets:
                    if isinstance(target, ast.Attribute) and target.attr == "status" and \
                            "order" in ast.unparse(target.value).lower():
                        found.append((name, child.lineno))
            if isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute) and \
                    child.func.attr == "update" and any(k.arg == "status" for k in child.keywords) and \
                    ast.unparse(child.func.value).startswith("Order."):
                found.append((name, child.lineno))
            visit(child, name)

    visit(ast.parse(source))
    return found


def test_the_scan_finds_a_direct_write():
    source = "def f(order):\n    order.status = 'paid'\n    Order.objects.filter(pk=1).update(status='x')\n"
    assert order_status_writes(source) == [("f", 2), ("f", 3)]


def test_no_module_but_orders_services_writes_order_status():
    offenders = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" in relative or relative == WRITER or "/sandbox/" in relative:
                continue
            offenders += [f"{relative}:{line} ({function})" for function, line in order_status_writes(path.read_text())]
    assert offenders == []

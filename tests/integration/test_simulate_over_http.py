"""The shop's "Simulate payment" reaches the sandbox process over HTTP, as the providers do:
with every sandbox module unimportable in this process, the button still pays."""
import sys

import pytest
from django.urls import reverse

from payments.models import Payment
from tests import factories
from tests.integration.conftest import free_port
from tests.test_sandbox_boundary import SANDBOX

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def no_sandbox_imports(monkeypatch):
    """Kassa's process cannot import the sandbox (None in sys.modules makes an import fail)."""
    for name in [name for name in sys.modules if name.startswith(f"{SANDBOX}.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, SANDBOX, None)


@pytest.fixture
def order(sandbox_process, settings):
    settings.SANDBOX_MODE = True
    seller = factories.SellerFactory(default_currency="INR")
    factories.PayoutDestinationFactory(seller=seller, method="nano")
    return factories.OrderFactory(seller=seller)


def url(name, order, **kwargs):
    return reverse(name, kwargs={"token": order.checkout_token, **kwargs})


def test_simulate_pays_through_the_sandbox_process(client, order, no_sandbox_imports):
    client.post(url("shop-pay", order, method="nano"))

    response = client.post(url("shop-simulate", order), {"method": "nano"})

    assert response["Location"] == url("shop-done", order)
    payment = Payment.objects.get(order=order)
    assert payment.status == "completed" and len(payment.tx_id) == 64


def test_simulate_with_the_sandbox_down_says_so(client, order, no_sandbox_imports, settings):
    client.post(url("shop-pay", order, method="nano"))
    settings.NANO_RPC_URL = f"http://127.0.0.1:{free_port()}/nano"  # nothing listens there

    response = client.post(url("shop-simulate", order), {"method": "nano"}, follow=True)

    assert response.status_code == 200
    assert "sandbox serve" in response.content.decode()
    assert Payment.objects.get(order=order).status == "pending"

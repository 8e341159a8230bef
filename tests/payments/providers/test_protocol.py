"""Every provider implements exactly the PaymentProvider protocol callers rely on, with the same signatures."""
import inspect

import pytest
from django.utils.module_loading import import_string

from payments.providers.base import PaymentProvider, Quote
from payments.providers.errors import Unsupported
from payments.providers.registry import PROVIDER_CLASSES, get_provider

METHODS = sorted(name for name, value in vars(PaymentProvider).items()
                 if inspect.isfunction(value) and not name.startswith("_"))


def _parameters(function) -> list[tuple[str, object, bool]]:
    return [(p.name, p.kind, p.default is inspect.Parameter.empty)
            for p in inspect.signature(function).parameters.values()]


@pytest.mark.parametrize("method", sorted(PROVIDER_CLASSES))
def test_provider_is_a_payment_provider(method):
    provider = get_provider(method)
    assert isinstance(provider, PaymentProvider)
    assert isinstance(provider.start_is_local, bool) and provider.code == method


@pytest.mark.parametrize("name", METHODS)
@pytest.mark.parametrize("method", sorted(PROVIDER_CLASSES))
def test_provider_signature_matches_the_protocol(method, name):
    cls = import_string(PROVIDER_CLASSES[method])
    assert _parameters(getattr(cls, name)) == _parameters(getattr(PaymentProvider, name)), f"{cls.__name__}.{name}"


def test_the_protocol_lists_what_callers_use():
    assert set(METHODS) >= {"quote", "start", "poll", "verify", "read_event", "capture", "refund", "refund_lookup"}


def test_quote_lives_with_the_providers():
    assert Quote.__module__ == "payments.providers.base"


def test_what_does_not_apply_raises_unsupported():
    from payments.providers.base import Observation

    observation = Observation(provider="x", external_tx_id="t")
    for method in ("nano", "coinpay"):
        with pytest.raises(Unsupported):
            get_provider(method).capture(observation)
    with pytest.raises(Unsupported):
        get_provider("nano").read_event(b"{}", {})

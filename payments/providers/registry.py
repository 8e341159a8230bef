"""Method code → provider instance. The only place that knows which classes exist."""
from functools import cache
from importlib import import_module

from payments.providers.base import PaymentProvider
from payments.providers.errors import ProviderNotConfigured

PROVIDER_CLASSES = {
    "nano": "payments.providers.nano.NanoProvider",
    "razorpay": "payments.providers.razorpay.RazorpayProvider",
    "coinpay": "payments.providers.coinpay.CoinPayProvider",
}


@cache
def get_provider(method: str) -> PaymentProvider:
    try:
        module_path, class_name = PROVIDER_CLASSES[method].rsplit(".", 1)
    except KeyError:
        message = f"Unknown payment method “{method}”."
        raise ProviderNotConfigured(message, user_message=message) from None
    return getattr(import_module(module_path), class_name)()


def reset_providers() -> None:
    """Forget cached instances (tests change settings such as provider URLs)."""
    get_provider.cache_clear()


def starts_locally(method) -> bool:
    """Whether this method's start() only formats instructions (Nano: a payment URI) rather
    than calling a provider, so starting a payment touches nothing but our database."""
    return isinstance(method, str) and method in PROVIDER_CLASSES and \
        getattr(get_provider(method), "start_is_local", False)

"""Method code → provider instance. The only place that knows which classes exist."""
from functools import cache

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

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
        dotted = PROVIDER_CLASSES[method]
    except KeyError:
        message = f"Unknown payment method “{method}”."
        raise ProviderNotConfigured(message, user_message=message) from None
    return import_string(dotted)()


def provider_classes_load() -> None:
    """Import every provider class; ImproperlyConfigured names the first that cannot be (run at start)."""
    for method, dotted in PROVIDER_CLASSES.items():
        try:
            import_string(dotted)
        except ImportError as exc:
            raise ImproperlyConfigured(f"payment provider for {method!r} ({dotted}) cannot be imported: {exc}") \
                from exc


def reset_providers() -> None:
    """Forget cached instances (tests change settings such as provider URLs)."""
    get_provider.cache_clear()


def starts_locally(method) -> bool:
    """Whether this method's start() only formats instructions (Nano: a payment URI) rather
    than calling a provider, so starting a payment touches nothing but our database."""
    return isinstance(method, str) and method in PROVIDER_CLASSES and \
        get_provider(method).start_is_local

"""Stand a fake provider in for payments.services: each of its modules looks providers up by its own name."""
import importlib
import pkgutil

import payments.services


def use_provider(monkeypatch, lookup) -> None:
    for module in pkgutil.iter_modules(payments.services.__path__):
        services_module = importlib.import_module(f"payments.services.{module.name}")
        if hasattr(services_module, "get_provider"):
            monkeypatch.setattr(services_module, "get_provider", lookup)

"""Benchmark views live in bench/urls.py, mounted by bench/settings.py: the production
URL confs have no bench route, whatever the environment says."""

import importlib

from django.urls import URLPattern, URLResolver, clear_url_caches, get_resolver


def _routes(resolver, prefix: str = "") -> list[str]:
    found = []
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found += _routes(pattern, route)
        elif isinstance(pattern, URLPattern):
            found.append(route)
    return found


def test_production_urlconf_has_no_bench_routes_even_with_the_old_bench_variables(monkeypatch):
    monkeypatch.setenv("KASSA_BENCH", "1")
    monkeypatch.setenv("BENCH_BARE_VIEW", "1")
    for name in ("payments.urls", "config.urls_api", "config.urls"):
        importlib.reload(importlib.import_module(name))
    clear_url_caches()
    try:
        routes = _routes(get_resolver("config.urls"))
        assert routes and not [route for route in routes if "bench" in route]
    finally:
        monkeypatch.delenv("KASSA_BENCH")
        monkeypatch.delenv("BENCH_BARE_VIEW")
        for name in ("payments.urls", "config.urls_api", "config.urls"):
            importlib.reload(importlib.import_module(name))
        clear_url_caches()


def test_the_bench_urlconf_adds_the_baselines_to_the_product_routes():
    routes = _routes(get_resolver("bench.urls"))
    assert {"api/v1/bench/bare/", "api/v1/bench/floor/", "bench/ok/"} <= set(routes)
    assert "api/v1/orders/" in routes

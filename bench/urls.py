"""The product's routes plus the benches' baselines (bench/bare_view.py), never in production."""

from django.urls import path

from bench.bare_view import BareApi, FloorApi, bench_ok
from config.urls import handler500
from config.urls import urlpatterns as product_urlpatterns

urlpatterns = [
    # bench/api.py: a constant, and the cheapest authenticated, throttled request.
    path("api/v1/bench/bare/", BareApi.as_view(), name="api-bench-bare"),
    path("api/v1/bench/floor/", FloorApi.as_view(), name="api-bench-floor"),
    # bench/webhooks.py: a bare 200 beside webhook ingest.
    path("bench/ok/", bench_ok),
    *product_urlpatterns,
]

__all__ = ["handler500", "urlpatterns"]

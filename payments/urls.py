"""Provider-facing routes at the root: inbound webhooks and gateway callbacks."""
import os

from django.urls import path

from payments import views_gateway

urlpatterns = [
    path("webhooks/razorpay/", views_gateway.webhook, {"provider": "razorpay"}, name="webhook-razorpay"),
    path("webhooks/coinpay/", views_gateway.webhook, {"provider": "coinpay"}, name="webhook-coinpay"),
    path("checkout/<str:token>/pay/razorpay/callback/", views_gateway.razorpay_callback, name="razorpay-callback"),
]

if os.environ.get("KASSA_BENCH"):  # bench/webhooks.py's baseline; never routed otherwise
    urlpatterns.append(path("bench/ok/", views_gateway.bench_ok))

"""Provider-facing routes at the root: inbound webhooks and gateway callbacks."""
from django.urls import path

from payments import views_gateway

urlpatterns = [
    path("webhooks/razorpay/", views_gateway.webhook, {"provider": "razorpay"}, name="webhook-razorpay"),
    path("webhooks/coinpay/", views_gateway.webhook, {"provider": "coinpay"}, name="webhook-coinpay"),
    path("checkout/<str:token>/pay/razorpay/callback/", views_gateway.razorpay_callback, name="razorpay-callback"),
]


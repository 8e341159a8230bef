"""/api/v1/ (README "REST API v1"). Ids are matched as strings so that a
malformed id is the same JSON 404 as another seller's id."""
from django.urls import path

from orders.api import OrderCollectionApi, OrderResourceApi
from payments.api import PaymentDetailApi, PaymentListApi, PaymentStartApi, PaymentVerifyApi, RefundCreateApi
from sellers.api import AnalyticsSummaryApi, DeliveryListApi, EndpointCollectionApi, EndpointDeleteApi

urlpatterns = [
    path("orders/", OrderCollectionApi.as_view(), name="api-orders"),
    path("orders/<str:order_id>/", OrderResourceApi.as_view(), name="api-order"),
    path("orders/<str:order_id>/payments/", PaymentStartApi.as_view(), name="api-order-payments"),
    path("payments/", PaymentListApi.as_view(), name="api-payments"),
    path("payments/<str:payment_id>/", PaymentDetailApi.as_view(), name="api-payment"),
    path("payments/<str:payment_id>/verify/", PaymentVerifyApi.as_view(), name="api-payment-verify"),
    path("payments/<str:payment_id>/refunds/", RefundCreateApi.as_view(), name="api-payment-refunds"),
    path("analytics/summary", AnalyticsSummaryApi.as_view(), name="api-analytics-summary"),
    path("webhook-endpoints/", EndpointCollectionApi.as_view(), name="api-webhook-endpoints"),
    path("webhook-endpoints/<str:endpoint_id>/", EndpointDeleteApi.as_view(), name="api-webhook-endpoint"),
    path("webhook-endpoints/<str:endpoint_id>/deliveries/", DeliveryListApi.as_view(),
         name="api-webhook-deliveries"),
]


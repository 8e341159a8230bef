"""/dashboard/: the seller dashboard. Object ids in URLs are always looked up within request.seller."""
from django.urls import path

from sellers.views import (
    developers,
    email_settings,
    orders,
    overview,
    payments,
    products,
    refund_requests,
    refunds,
    settings,
)

app_name = "dashboard"

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("orders/", orders.order_list, name="orders"),
    path("orders/<uuid:pk>/", orders.order_detail, name="order_detail"),
    path("orders/<uuid:pk>/delivery/", orders.order_delivery, name="order_delivery"),
    path("orders/<uuid:pk>/fulfil/", orders.order_fulfil, name="order_fulfil"),
    path("orders/<uuid:pk>/resend-webhook/", orders.order_resend_webhook, name="order_resend_webhook"),
    path("payments/", payments.payment_list, name="payments"),
    path("payments/<uuid:pk>/", payments.payment_detail, name="payment_detail"),
    path("payments/<uuid:pk>/refund/", payments.payment_refund_view, name="payment_refund"),
    path("payments/<uuid:pk>/cancel/", payments.payment_cancel_view, name="payment_cancel"),
    path("refunds/<uuid:pk>/", refunds.refund_detail, name="refund_detail"),
    path("refunds/<uuid:pk>/verify/", refunds.refund_verify_view, name="refund_verify"),
    path("refunds/<uuid:pk>/cancel/", refunds.refund_cancel_view, name="refund_cancel"),
    path("refund-requests/", refund_requests.refund_request_list, name="refund_requests"),
    path("refund-requests/<int:pk>/approve/", refund_requests.refund_request_approve_view,
         name="refund_request_approve"),
    path("refund-requests/<int:pk>/decide/", refund_requests.refund_request_decide_view, name="refund_request_decide"),
    path("products/", products.product_list, name="products"),
    path("products/new/", products.product_new, name="product_new"),
    path("products/<int:pk>/edit/", products.product_edit, name="product_edit"),
    path("products/<int:pk>/archive/", products.product_archive_view, name="product_archive"),
    path("products/payment-link/", products.payment_link_new, name="payment_link_new"),
    path("settings/", settings.settings_view, name="settings"),
    path("settings/email/", email_settings.email_settings_view, name="email_settings"),
    path("developers/", developers.developers, name="developers"),
    path("developers/keys/", developers.api_key_new, name="api_key_new"),
    path("developers/keys/<int:pk>/revoke/", developers.api_key_revoke, name="api_key_revoke"),
    path("developers/endpoints/", developers.endpoint_new, name="endpoint_new"),
    path("developers/endpoints/<int:pk>/rotate/", developers.endpoint_rotate, name="endpoint_rotate"),
    path("developers/endpoints/<int:pk>/test/", developers.endpoint_test, name="endpoint_test"),
    path("developers/endpoints/<int:pk>/enable/", developers.endpoint_enable, name="endpoint_enable"),
    path("developers/endpoints/<int:pk>/delete/", developers.endpoint_delete, name="endpoint_delete"),
    path("developers/deliveries/<int:pk>/resend/", developers.delivery_resend_view, name="delivery_resend"),
]

"""/me/: pages for a shopper signed in from the partner super-app (issue 8)."""
from django.urls import path

from orders import views_partner

urlpatterns = [
    path("payments/", views_partner.my_payments, name="partner-payments"),
    path("orders/<uuid:order_id>/", views_partner.order_activity, name="partner-order"),
    path("payments/<uuid:payment_id>/refund-request/", views_partner.refund_request, name="partner-refund-request"),
]

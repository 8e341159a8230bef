"""Custom staff pages, mounted at /admin/ before admin.site.urls (config/urls.py).

Each view is wrapped in admin.site.admin_view (staff login, CSRF, no caching) and checks
its own permission; POST actions check the action's permission again.
"""
from django.contrib import admin
from django.urls import path

from payments.staff import views

urlpatterns = [
    path("", admin.site.admin_view(views.staff_index), name="staff-index"),
    path("analytics/", admin.site.admin_view(views.analytics), name="staff-analytics"),
    path("routing/", admin.site.admin_view(views.routing), name="staff-routing"),
    path("review/", admin.site.admin_view(views.review), name="staff-review"),
    path("review/act/", admin.site.admin_view(views.review_act), name="staff-review-act"),
    path("review/receipts/<int:pk>/assign/", admin.site.admin_view(views.receipt_assign_view),
         name="staff-receipt-assign"),
]

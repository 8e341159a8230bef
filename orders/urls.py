"""Shopper pages at the site root."""
from django.urls import path

from orders import views_shop

urlpatterns = [
    path("s/<slug:slug>/", views_shop.storefront, name="shop-storefront"),
    path("s/<slug:slug>/buy/", views_shop.buy, name="shop-buy"),
    path("checkout/<str:token>/", views_shop.checkout, name="shop-checkout"),
    path("checkout/<str:token>/pay/<str:method>/", views_shop.pay, name="shop-pay"),
    path("checkout/<str:token>/status/", views_shop.status, name="shop-status"),
    path("checkout/<str:token>/verify/", views_shop.verify, name="shop-verify"),
    path("checkout/<str:token>/simulate/", views_shop.simulate, name="shop-simulate"),
    path("checkout/<str:token>/done/", views_shop.done, name="shop-done"),
]

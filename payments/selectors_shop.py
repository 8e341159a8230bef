"""Reads for the shopper pages: a seller's storefront, an order by its checkout
token, and the payments shown on the pay and done pages.

The checkout token is the shopper's only credential, so every order lookup here
goes through it and every payment lookup is scoped to that order.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db.models import Prefetch
from django.http import Http404

from orders.models import Order, OrderItem, Product
from payments.models import Payment
from payments.providers.registry import get_provider
from sellers.models import METHOD_CHOICES, Seller

log = logging.getLogger("kassa.shop")

METHOD_LABELS = dict(METHOD_CHOICES)
# What each method is, under its name on the checkout (three buttons must not read alike).
METHOD_HINTS = {
    "nano": "Send XNO from your own Nano wallet: no fees, confirmed in seconds",
    "razorpay": "Cards, UPI and netbanking through Razorpay",
    "coinpay": "Crypto through CoinPay: pay from an exchange or your wallet",
}


@dataclass(frozen=True)
class MethodOption:
    code: str
    label: str
    hint: str = ""


def storefront_seller(*, slug: str) -> Seller:
    try:
        return Seller.objects.get(slug=slug)
    except Seller.DoesNotExist:
        raise Http404("No such shop.") from None


def storefront_products(*, seller: Seller) -> list[Product]:
    return list(Product.objects.filter(seller=seller, is_active=True).order_by("name", "pk"))


def storefront_product(*, seller: Seller, product_id) -> Product:
    """An active product of this seller; anything else (another seller's, inactive) is 404."""
    try:
        return Product.objects.get(seller=seller, pk=int(product_id), is_active=True)
    except (Product.DoesNotExist, TypeError, ValueError):
        raise Http404("No such product.") from None


def checkout_order(*, token: str, with_items: bool = False, for_methods: bool = False) -> Order:
    """The order behind a checkout token, or 404.

    for_methods: prefetch the seller's payout destinations, which providers'
    is_available/quote read (one query, not one per method).
    """
    queryset = Order.objects.select_related("seller")
    if for_methods:
        queryset = queryset.prefetch_related("seller__payout_destinations")
    if with_items:
        queryset = queryset.prefetch_related(Prefetch("items", queryset=OrderItem.objects.order_by("pk")))
    try:
        return queryset.get(checkout_token=token)
    except Order.DoesNotExist:
        raise Http404("No such checkout.") from None


def order_payment_for_method(*, order: Order, method: str) -> Payment | None:
    """The newest payment of this order for `method`: active, or the one that ended last."""
    return (Payment.objects.filter(order=order, method=method)
            .order_by("-created_at", "-pk").first())


def order_latest_payment(*, order: Order) -> Payment | None:
    return Payment.objects.filter(order=order).order_by("-created_at", "-pk").first()


def checkout_methods(*, order: Order) -> list[MethodOption]:
    """The methods this seller offers for this order, in the seller's order.

    A provider that is misconfigured or whose availability check breaks hides its method
    rather than breaking the checkout; the log keeps the reason. A provider module that
    cannot be imported is not hidden: the payments app refuses to start with one.
    """
    seller = order.seller
    options = []
    for code in seller.enabled_methods or []:
        if code not in METHOD_LABELS:
            continue
        provider = get_provider(code)
        try:
            available = provider.is_available(seller, order)
        except Exception:  # noqa: BLE001 - one broken provider must not take the checkout down
            log.warning("payment method hidden: provider failed", exc_info=True,
                        extra={"method": code, "seller": seller.pk})
            available = False
        if available:
            options.append(MethodOption(code=code, label=METHOD_LABELS[code], hint=METHOD_HINTS.get(code, "")))
    return options

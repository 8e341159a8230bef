"""Shopper pages: storefront → checkout → pay → done.

Views stay thin: parse input, call one selector or service, render. The checkout
token in the URL is the shopper's only credential, so orders are looked up by it
and payments only within that order. Every PaymentError becomes a friendly
message with a 4xx/503 status; no shopper action should produce a 500.
"""
from __future__ import annotations

import logging
import secrets
import time

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.redis import REDIS_ERRORS, redis_failed
from notifications.selectors import customer_email_required
from orders.actors import Actor
from orders.buy_nonce import buy_nonce_bind, buy_nonce_claim, buy_nonce_release, buy_nonce_token
from orders.forms import BuyForm, CheckoutEmailForm, VerifyForm
from orders.models import Order
from orders.partner_session import partner_user_id_for
from orders.services import ItemSpec, OrderError, order_create, order_partner_bind, order_set_customer_email
from orders.throttle import throttle_shoppers
from orders.views_shop_pay import done_outcome, pay_context, render_pay
from payments.checks import payment_check
from payments.models import Payment
from payments.providers.errors import PaymentError
from payments.representations import nano_send_data
from payments.sandbox_client import simulate_payment
from payments.selectors_shop import (
    METHOD_LABELS,
    checkout_methods,
    checkout_order,
    order_latest_payment,
    order_payment_for_method,
    storefront_product,
    storefront_products,
    storefront_seller,
)
from payments.services import payment_check_soon, payment_start, payment_verify

log = logging.getLogger("kassa.shop")

BUY_IN_FLIGHT_WAIT = 3.0         # seconds a double-click waits for the first click's order
VERIFY_THROTTLE_SECONDS = 5      # "I've paid" costs provider calls: at most one check per 5 s


def _shopper() -> Actor:
    return Actor.shopper("checkout")


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _error_status(exc: PaymentError) -> int:
    status = getattr(exc, "http_status", 400) or 400
    return status if 400 <= status < 600 and status != 500 else 400


def _unavailable(request, seller, *, order: Order | None = None):
    return render(request, "shop/unavailable.html", {"seller": seller, "order": order}, status=403)


def _url(name: str, order: Order, **kwargs) -> str:
    return reverse(name, kwargs={"token": order.checkout_token, **kwargs})


# --- storefront -----------------------------------------------------------------------

def _render_storefront(request, seller, *, status: int = 200, error: str = ""):
    return render(request, "shop/storefront.html", {
        "seller": seller,
        "products": storefront_products(seller=seller),
        # One nonce per render: a double-submitted Buy form carries the same one.
        "nonce": secrets.token_urlsafe(16),
        "error": error,
    }, status=status)


@require_GET
def storefront(request, slug: str):
    seller = storefront_seller(slug=slug)
    if not seller.is_accepting_payments:
        return _unavailable(request, seller)
    return _render_storefront(request, seller)


@require_POST
@throttle_shoppers
def buy(request, slug: str):
    seller = storefront_seller(slug=slug)
    if not seller.is_accepting_payments:
        return _unavailable(request, seller)
    form = BuyForm(request.POST)
    if not form.is_valid():
        return _render_storefront(request, seller, status=400,
                                  error="Choose a quantity between 1 and 99 and try again.")
    product = storefront_product(seller=seller, product_id=form.cleaned_data["product"])
    quantity = form.cleaned_data["quantity"]
    nonce_key = (f"shop:buy:{form.cleaned_data['nonce']}:{product.pk}:{quantity}"
                 if form.cleaned_data["nonce"] else "")
    existing = _order_for_nonce(nonce_key)
    if existing is not None:
        return redirect(_url("shop-checkout", existing))
    try:
        order = order_create(
            seller=seller, currency=product.currency, actor=_shopper(), partner_user_id=partner_user_id_for(request),
            items=[ItemSpec(name=product.name, unit_amount=product.unit_amount, quantity=quantity, product=product)],
        )
    except OrderError as exc:
        if nonce_key:
            buy_nonce_release(key=nonce_key)
        return _render_storefront(request, seller, status=400, error=exc.user_message)
    if nonce_key:
        buy_nonce_bind(key=nonce_key, checkout_token=order.checkout_token)
    return redirect(_url("shop-checkout", order))


def _order_for_nonce(key: str) -> Order | None:
    """The open order an earlier submit of this same form created, if any.

    The first submit claims the key atomically; a second one arriving while the
    first is still creating the order waits briefly for its token. A shared cache
    (Redis, else the database) makes this hold across processes; a lost race at worst
    makes a second *order*, never a second payment (payment_start reuses).
    """
    if not key or buy_nonce_claim(key=key):
        return None
    deadline = time.monotonic() + BUY_IN_FLIGHT_WAIT
    token = buy_nonce_token(key=key)
    while token == "" and time.monotonic() < deadline:
        time.sleep(0.05)
        token = buy_nonce_token(key=key)
    if not token:
        return None
    # Back-button after paying: a finished order is not "the same purchase" any more.
    return Order.objects.filter(checkout_token=token, status=Order.Status.OPEN).first()


# --- checkout ---------------------------------------------------------------------------

def _email_form(request, order, data=None) -> CheckoutEmailForm:
    """Prefilled with what the order has (the API's customer_email), else a partner shopper's
    id when the partner app identifies shoppers by email."""
    initial = order.customer_email or partner_user_id_for(request) or order.partner_user_id
    try:
        validate_email(initial)
    except ValidationError:
        initial = ""
    return CheckoutEmailForm(data, required=customer_email_required(order.seller),
                             initial={"customer_email": initial})


def _render_checkout(request, order, *, status: int = 200, error: str = "", email_form=None):
    latest = order_latest_payment(order=order)
    return render(request, "shop/checkout.html", {
        "seller": order.seller,
        "order": order,
        "items": order.items.all(),
        "methods": checkout_methods(order=order),
        "active_payment": latest if latest and latest.is_active else None,
        "email_form": email_form or _email_form(request, order),
        "error": error,
    }, status=status)


@require_GET
def checkout(request, token: str):
    order = checkout_order(token=token, with_items=True, for_methods=True)
    if order.is_paid or order.status == Order.Status.CANCELLED:
        return redirect(_url("shop-done", order))
    if not order.seller.is_accepting_payments:
        return _unavailable(request, order.seller, order=order)
    return _render_checkout(request, order)


# --- pay ------------------------------------------------------------------------------

def _known_method(method: str) -> str:
    if method not in METHOD_LABELS:
        raise Http404("Unknown payment method.")
    return method


@require_http_methods(["GET", "POST"])
@throttle_shoppers
def pay(request, token: str, method: str):
    """POST starts (or reuses) the payment and redirects here; GET only shows it.

    A refresh, a double click or the no-JS meta refresh therefore never starts a
    second payment: payment_start returns the active one for this method.
    """
    _known_method(method)
    if request.method == "POST":
        order = checkout_order(token=token, with_items=True, for_methods=True)
        if order.is_paid:
            return redirect(_url("shop-done", order))
        if not order.seller.is_accepting_payments:
            return _unavailable(request, order.seller, order=order)
        email_form = _email_form(request, order, request.POST)
        if not email_form.is_valid():
            return _render_checkout(request, order, status=400, email_form=email_form)
        order_set_customer_email(order=order, email=email_form.cleaned_data["customer_email"], actor=_shopper())
        try:
            # A verified partner shopper paying an unbound order makes it (and its payments) theirs.
            order_partner_bind(order=order, partner_user_id=partner_user_id_for(request), actor=_shopper())
            payment_start(order_id=order.pk, method=method, actor=_shopper())
        except PaymentError as exc:
            return _render_checkout(request, order, status=_error_status(exc), error=exc.user_message)
        return redirect(_url("shop-pay", order, method=method))

    order = checkout_order(token=token, with_items=True)
    if order.is_paid:
        return redirect(_url("shop-done", order))
    payment = order_payment_for_method(order=order, method=method)
    if payment is None:
        return redirect(_url("shop-checkout", order))
    if not payment.is_active:
        return redirect(_url("shop-done", order))
    return render_pay(request, order, payment)


# --- live status ------------------------------------------------------------------------

@require_GET
def status(request, token: str):
    """The status panel, polled by htmx every 3 s; HX-Redirect to done when it is over."""
    order = checkout_order(token=token)
    method = request.GET.get("method", "")
    payment = (order_payment_for_method(order=order, method=method) if method in METHOD_LABELS
               else order_latest_payment(order=order))
    if payment is None:
        raise Http404("No payment yet.")
    if order.is_paid or not payment.is_active:
        done = _url("shop-done", order)
        if not _is_htmx(request):
            return redirect(done)
        response = HttpResponse(status=200)
        response["HX-Redirect"] = done
        return response
    return render(request, "shop/_status.html", pay_context(order, payment))


# --- "I've paid" and sandbox simulate ---------------------------------------------------

def _payment_for_post(request, token: str):
    """(order, payment) for a POST that names its method; 404 for anything unknown."""
    order = checkout_order(token=token)
    method = _known_method(request.POST.get("method", ""))
    payment = order_payment_for_method(order=order, method=method)
    if payment is None:
        raise Http404("No payment to check.")
    return order, payment


@require_POST
def verify(request, token: str):
    order, payment = _payment_for_post(request, token)
    if order.is_paid:
        return redirect(_url("shop-done", order))
    form = VerifyForm(request.POST)
    if not form.is_valid():
        if payment.is_active:
            return render_pay(request, order, payment, status=400, verify_form=form)
        messages.error(request, form.errors["reference"][0])
        return redirect(_url("shop-done", order))
    if not _verify_allowed(payment):
        messages.info(request, "We just checked. Give it a few seconds; this page updates by itself.")
        return redirect(_url("shop-pay", order, method=payment.method))
    if not form.cleaned_data["reference"] and payment.method == "nano":
        # Answer at once; the worker reads this address with the tick's batched read.
        payment_check_soon(payment=payment)
        messages.info(request, "We're checking the network for your payment now; this page updates by itself.")
        return redirect(_url("shop-pay", order, method=payment.method))
    try:
        payment = payment_verify(payment=payment, reference=form.cleaned_data["reference"])
    except PaymentError as exc:
        log.info("shopper verify refused", extra={"payment": str(payment.pk), "error": exc.__class__.__name__})
        if payment.is_active:
            return render_pay(request, order, payment, verify_form=form, error=exc.user_message,
                              status=_error_status(exc))
        messages.error(request, exc.user_message)
        return redirect(_url("shop-done", order))
    return _after_check(request, order, payment)


def _verify_allowed(payment) -> bool:
    """At most one provider check per payment per few seconds; without Redis every check may run
    (the provider answers either way, and a shopper who paid is never told to wait for nothing)."""
    try:
        return cache.add(f"shop:verify:{payment.pk}", 1, VERIFY_THROTTLE_SECONDS)
    except REDIS_ERRORS as exc:
        redis_failed("verify throttle", exc)
        return True


def _after_check(request, order, payment):
    """Where a shopper goes after we asked the provider: done when over, else back to pay."""
    if not payment.is_active:
        return redirect(_url("shop-done", order))
    if payment.status == Payment.Status.CONFIRMING:
        messages.success(request, "We can see your payment. It is waiting for the network to confirm it.")
    elif payment.amount_received_int:
        messages.warning(request, "We received part of the amount. Please send the rest to the same address.")
    else:
        messages.info(request, "We have not seen your payment yet. It can take a few seconds after you send it; "
                               "this page updates by itself.")
    return redirect(_url("shop-pay", order, method=payment.method))


@require_POST
def simulate(request, token: str):
    """Sandbox only: ask the sandbox process (over HTTP) to pay this payment the way a shopper's
    wallet would, then check it."""
    if not settings.SANDBOX_MODE:
        raise Http404("Not in sandbox mode.")
    order, payment = _payment_for_post(request, token)
    if order.is_paid or not payment.is_active:
        return redirect(_url("shop-done", order))
    try:
        simulate_payment(payment)
        # Don't wait for the next monitor tick: check this payment now.
        payment = payment_check(payment=payment)
    except PaymentError as exc:
        messages.error(request, f"{exc.user_message} (Is the sandbox running? python manage.py sandbox serve)")
        return redirect(_url("shop-pay", order, method=payment.method))
    return _after_check(request, order, payment)


# --- done -------------------------------------------------------------------------------

@require_GET
def done(request, token: str):
    order = checkout_order(token=token, with_items=True)
    if order.is_paid:
        payment = (Payment.objects.filter(order=order, status__in=Payment.PAID_STATUSES)
                   .order_by("-completed_at").first())
    else:
        payment = order_latest_payment(order=order)
    outcome = done_outcome(order, payment)
    if not outcome:
        return redirect(_url("shop-checkout", order))
    if outcome in Payment.ACTIVE_STATUSES:
        return redirect(_url("shop-pay", order, method=payment.method))
    return render(request, "shop/done.html", {
        "seller": order.seller,
        "order": order,
        "items": order.items.all(),
        "payment": payment,
        "refunds": [(refund, nano_send_data(refund)) for refund in payment.refunds.order_by("created_at")]
        if payment else [],
        "outcome": outcome,
        "method_label": METHOD_LABELS.get(payment.method, "") if payment else "",
        "can_retry": outcome in ("expired", "failed", "cancelled") and order.status != Order.Status.CANCELLED
        and order.seller.is_accepting_payments,
    })

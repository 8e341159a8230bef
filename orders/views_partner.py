"""/me/: a verified partner shopper's own payments, order activity and refund requests.

Only a session verified server-to-server (orders.partner_session) gets in; every
lookup is scoped to that partner user id, so another shopper's id is a 404.
"""
from __future__ import annotations

from functools import wraps

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from orders.partner import partner_enabled
from orders.partner_session import partner_identity
from payments.providers.errors import PaymentError
from payments.selectors_partner import (
    partner_order,
    partner_order_payments,
    partner_order_timeline,
    partner_payment,
    partner_payments,
)
from payments.services import refund_request_create

PAGE_SIZE = 20
# The shop layout's header names a seller; pages spanning sellers show this instead.
ALL_SHOPS = {"name": "My payments"}


class RefundRequestForm(forms.Form):
    reason = forms.CharField(label="Why do you want a refund? (optional)", required=False, max_length=500,
                             widget=forms.Textarea(attrs={"rows": 3, "maxlength": 500}))


def partner_required(view):
    """Passes the verified PartnerIdentity; without one, a 403 page that says how to sign in."""
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not partner_enabled():
            raise Http404("Partner sign-in is not enabled.")
        identity = partner_identity(request)
        if identity is None:
            response = render(request, "partner/signin_required.html", {"seller": ALL_SHOPS}, status=403)
        else:
            response = view(request, identity, *args, **kwargs)
        # Personal pages: never cached by the browser or a proxy.
        response["Cache-Control"] = "private, no-store"
        return response
    return wrapper


@require_GET
@partner_required
def my_payments(request, identity):
    page = Paginator(partner_payments(partner_user_id=identity.user_id), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "partner/my_payments.html", {
        "identity": identity, "page_obj": page, "payments": page.object_list, "seller": ALL_SHOPS,
    })


@require_GET
@partner_required
def order_activity(request, identity, order_id):
    order = partner_order(partner_user_id=identity.user_id, order_id=order_id)
    return render(request, "partner/order_activity.html", {
        "identity": identity, "order": order, "seller": order.seller, "items": order.items.all(),
        "payments": partner_order_payments(order=order), "events": partner_order_timeline(order=order),
        "refund_form": RefundRequestForm(),
    })


@require_POST
@partner_required
def refund_request(request, identity, payment_id):
    payment = partner_payment(partner_user_id=identity.user_id, payment_id=payment_id)
    form = RefundRequestForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Keep the reason under 500 characters and try again.")
    else:
        try:
            refund_request_create(payment=payment, partner_user_id=identity.user_id,
                                  reason=form.cleaned_data["reason"])
        except PaymentError as exc:
            messages.error(request, exc.user_message)
        else:
            messages.success(request, f"Your refund request was sent to {payment.seller.name}. "
                                      "You'll see their decision on this page.")
    return redirect("partner-order", order_id=payment.order_id)

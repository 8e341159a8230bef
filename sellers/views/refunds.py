"""A refund's page. For Nano (non-custodial: Kassa cannot send the seller's XNO) it says
exactly what to send, from where, to whom, with a QR code and a nano: URI, and takes the
send's block hash; the node's answer, not the seller's word, completes the refund."""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from payments.models import Refund
from payments.providers.errors import PaymentError
from payments.providers.nano import payment_qr_svg
from payments.representations import nano_send_data
from payments.services import refund_cancel, refund_nano_verify
from sellers.views.mixins import actor, seller_object, seller_required


class RefundSendForm(forms.Form):
    block_hash = forms.CharField(label="Block hash of your send", max_length=80, strip=True,
                                 widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false",
                                                               "placeholder": "64 hexadecimal characters"}))


def _refunds(request):
    return Refund.objects.select_related("payment", "payment__order")


def _render(request, refund: Refund, form: RefundSendForm, status: int = 200):
    send = nano_send_data(refund)
    return render(request, "dashboard/refund_detail.html", {
        "refund": refund, "payment": refund.payment, "order": refund.payment.order, "send": send, "form": form,
        # segno's SVG of our own URI (a normalized address and digits), so safe to embed.
        "qr_svg": mark_safe(payment_qr_svg(send["uri"], title="Scan to send this refund from your Nano wallet"))  # noqa: S308
        if send and refund.status == Refund.Status.AWAITING_SELLER else "",
    }, status=status)


@seller_required
def refund_detail(request, pk):
    return _render(request, seller_object(request, _refunds(request), pk=pk), RefundSendForm())


@require_POST
@seller_required(write=True)
def refund_verify_view(request, pk):
    refund = seller_object(request, _refunds(request), pk=pk)
    form = RefundSendForm(request.POST)
    if form.is_valid():
        try:
            refund = refund_nano_verify(refund=refund, reference=form.cleaned_data["block_hash"], actor=actor(request))
        except PaymentError as exc:
            form.add_error("block_hash", exc.user_message)
        else:
            messages.success(request, "The node shows your send: the refund succeeded.")
            return redirect("dashboard:refund_detail", pk=refund.pk)
    return _render(request, refund, form, status=400)


@require_POST
@seller_required(write=True)
def refund_cancel_view(request, pk):
    refund = seller_object(request, _refunds(request), pk=pk)
    if refund.status == Refund.Status.CANCELLED:
        messages.info(request, "This refund was already cancelled.")
        return redirect("dashboard:refund_detail", pk=refund.pk)
    try:
        refund_cancel(refund=refund, actor=actor(request))
    except PaymentError as exc:
        messages.error(request, exc.user_message)
    else:
        messages.success(request, "Refund cancelled. What it held back can be refunded again.")
    return redirect("dashboard:refund_detail", pk=refund.pk)

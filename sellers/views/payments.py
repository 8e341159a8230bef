"""Payments: filtered list (+ streamed CSV), one payment's page, and refund / cancel actions
(both via payments.services)."""
from __future__ import annotations

from django.contrib import messages
from django.db.models import Prefetch
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from payments.models import Payment, PaymentEvent, Receipt, Refund
from payments.providers.errors import PaymentError
from payments.selectors_dashboard import count_capped, page_of, payments_for_list, with_payment_money
from payments.services import payment_cancel, payment_refund
from sellers.csv_export import payments_csv_response
from sellers.forms import PaymentFilterForm, RefundForm
from sellers.money import format_major, format_minor
from sellers.views.mixins import actor, seller_object, seller_required
from sellers.views.sorting import sort_links


@seller_required
def payment_list(request):
    form = PaymentFilterForm(request.GET or None, seller=request.seller)
    filters = form.filters() if request.GET else {"sort": "-created"}
    qs = payments_for_list(request.seller, filters)
    if request.GET.get("export") == "csv":
        return payments_csv_response(with_payment_money(qs), request.seller)
    page = page_of(qs, request.GET.get("page"))
    total, capped = count_capped(qs)
    return render(request, "dashboard/payments_list.html", {
        "form": form, "page": page, "payments": page.object_list, "filtered": bool(request.GET),
        "total": total, "total_capped": capped,
        "sort_links": sort_links(request, filters.get("sort", "-created"), ("created", "amount", "method", "status")),
    })


@seller_required
def payment_detail(request, pk):
    payments = with_payment_money(Payment.objects.select_related("order").prefetch_related(
        Prefetch("refunds", queryset=Refund.objects.order_by("-created_at")),
        Prefetch("receipts", queryset=Receipt.objects.order_by("created_at"))))
    payment = seller_object(request, payments, pk=pk)
    events = list(PaymentEvent.objects.filter(payment=payment).select_related("actor_user"))
    return render(request, "dashboard/payment_detail.html", {
        "payment": payment, "order": payment.order, "refunds": list(payment.refunds.all()),
        "receipts": list(payment.receipts.all()), "events": events,
    })


def refund_left(payment: Payment) -> int:
    """What a new refund may still take: refundable minus refunds still open (pending, awaiting the seller)."""
    pending = sum(r.amount for r in payment.refunds.all() if r.status in Refund.OPEN_STATUSES)
    return max(payment.refundable_amount - pending, 0)


@require_POST
@seller_required(write=True)
def payment_refund_view(request, pk):
    payment = seller_object(request, Payment.objects.select_related("order"), pk=pk)
    form = RefundForm(request.POST, payment=payment, prefix=f"refund-{payment.pk}")
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, f"Refund not made: {error}")
        return redirect("dashboard:order_detail", pk=payment.order_id)
    if request.POST.get("confirm") != "yes":
        # Money leaves only after a page that states the amount (works without JS; a double POST asks again).
        amount = form.cleaned_data["amount_minor"]
        return render(request, "dashboard/refund_confirm.html", {
            "payment": payment, "order": payment.order, "amount": refund_left(payment) if amount is None else amount,
            "amount_major": format_major(amount or 0, payment.currency),
            "form": form, "full": amount is None, "action": request.path, "refunds_seen": payment.refunds.count(),
            "back": f"/dashboard/orders/{payment.order_id}/#payment-{payment.pk}",
        })
    try:
        refund = payment_refund(payment=payment, actor=actor(request), amount_minor=form.cleaned_data["amount_minor"],
                                reason=form.cleaned_data.get("reason") or "",
                                refunds_seen=form.cleaned_data.get("refunds_seen"))
    except PaymentError as exc:
        messages.error(request, f"Refund not made: {exc.user_message}")
    else:
        amount = format_minor(refund.amount, payment.currency)
        if refund.status == "awaiting_seller":
            messages.info(request, f"Refund of {amount} recorded. Kassa cannot send your XNO: send it from your "
                                   "wallet as shown below; it completes when the Nano network shows your send.")
            return redirect("dashboard:refund_detail", pk=refund.pk)
        if refund.status == "failed":
            messages.error(request, f"The refund of {amount} failed: {refund.failure_reason or 'provider refused it'}.")
        elif refund.status == "succeeded":
            messages.success(request, f"Refunded {amount}.")
        else:
            messages.info(request, f"Refund of {amount} requested; the provider is processing it.")
    return redirect("dashboard:order_detail", pk=payment.order_id)


@require_POST
@seller_required(write=True)
def payment_cancel_view(request, pk):
    payment = seller_object(request, Payment.objects, pk=pk)
    try:
        payment_cancel(payment=payment, actor=actor(request), reason="cancelled by seller in dashboard")
        messages.success(request, "Payment cancelled.")
    except PaymentError as exc:
        messages.error(request, exc.user_message)
    return redirect("dashboard:order_detail", pk=payment.order_id)

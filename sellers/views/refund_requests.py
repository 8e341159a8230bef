"""Refund requests from partner shoppers (issue 8): the seller approves or declines them.

Approval runs payments.services.payment_refund (through refund_request_decide), so it
follows the same rules, events, ledger rows and webhooks as a refund from the order page.
"""
from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from payments.models import RefundRequest
from payments.providers.errors import PaymentError
from payments.selectors_dashboard import page_of
from payments.services import refund_request_decide
from sellers.money import format_major, format_minor, parse_major
from sellers.views.mixins import actor, seller_object, seller_required
from sellers.views.payments import refund_left


@seller_required
def refund_request_list(request):
    decided = request.GET.get("show") == "decided"
    requests = (RefundRequest.objects.filter(seller=request.seller)
                .select_related("payment", "payment__order", "refund", "decided_by"))
    if decided:
        requests = requests.exclude(status=RefundRequest.Status.REQUESTED).order_by("-decided_at", "-pk")
    else:
        requests = requests.filter(status=RefundRequest.Status.REQUESTED).order_by("created_at", "pk")
    page = page_of(requests, request.GET.get("page"))
    return render(request, "dashboard/refund_requests.html", {
        "page": page, "refund_requests": page.object_list, "show_decided": decided,
    })


def _approval_amount(payment, amount_text: str) -> tuple[int, str]:
    """(amount in minor units, error): empty means everything left to refund."""
    left = refund_left(payment)
    if not amount_text:
        return left, "" if left else "Nothing is left to refund on this payment."
    try:
        amount = parse_major(amount_text, payment.currency)
    except ValueError as exc:
        return left, str(exc)
    if not 0 < amount <= left:
        return amount, f"Choose an amount more than zero and at most {format_minor(left, payment.currency)}."
    return amount, ""


def _approve_page(request, refund_request, amount: int, error: str):
    """The confirmation before an approval moves money: the amount (editable, for a partial approval) and
    one button that refunds exactly the amount it names."""
    payment = refund_request.payment
    return render(request, "dashboard/refund_request_approve.html", {
        "rr": refund_request, "payment": payment, "order": payment.order, "amount": amount,
        "left": refund_left(payment), "amount_major": format_major(amount, payment.currency), "error": error,
        "decide_url": reverse("dashboard:refund_request_decide", args=[refund_request.pk]),
    }, status=400 if error else 200)


@seller_required(write=True)
def refund_request_approve_view(request, pk):
    refund_request = seller_object(request, RefundRequest.objects.select_related("payment", "payment__order"), pk=pk)
    if refund_request.status != RefundRequest.Status.REQUESTED:
        messages.error(request, "This refund request has already been decided.")
        return redirect("dashboard:refund_requests")
    return _approve_page(request, refund_request, *_approval_amount(refund_request.payment, ""))


@require_POST
@seller_required(write=True)
def refund_request_decide_view(request, pk):
    refund_request = seller_object(request, RefundRequest.objects.select_related("payment", "payment__order"), pk=pk)
    decision = request.POST.get("decision")
    if decision not in ("approve", "decline"):
        messages.error(request, "Choose Approve or Decline.")
        return redirect("dashboard:refund_requests")
    amount_minor = None
    if decision == "approve" and refund_request.status == RefundRequest.Status.REQUESTED:
        amount_minor, error = _approval_amount(refund_request.payment, request.POST.get("amount", "").strip())
        if error or request.POST.get("confirm") != "yes":
            # An error to fix, or the question not answered yet: no money moves.
            return _approve_page(request, refund_request, amount_minor, error)
    try:
        decided = refund_request_decide(request=refund_request, approve=decision == "approve", actor=actor(request),
                                        amount_minor=amount_minor)
    except PaymentError as exc:
        messages.error(request, f"Not done: {exc.user_message}")
        return redirect("dashboard:refund_requests")
    payment = refund_request.payment
    if decision == "decline":
        messages.success(request, "Refund request declined. The shopper sees your decision in the app.")
    elif decided.refund and decided.refund.status == "failed":
        reason = decided.refund.failure_reason or "the provider refused it"
        messages.error(request, f"Approved, but the refund failed: {reason}.")
    elif decided.refund and decided.refund.status == "awaiting_seller":
        # Nano is non-custodial: the seller sends it from their own wallet; that page says exactly what.
        messages.info(request, f"Approved: now send {format_minor(decided.refund.amount, payment.currency)} "
                               "back from your Nano wallet, as shown below.")
        return redirect("dashboard:refund_detail", decided.refund.pk)
    elif decided.refund and decided.refund.status == "succeeded":
        messages.success(request, f"Approved: {format_minor(decided.refund.amount, payment.currency)} refunded.")
    else:
        messages.info(request, "Approved: the refund was requested and the provider is processing it.")
    return redirect("dashboard:refund_requests")

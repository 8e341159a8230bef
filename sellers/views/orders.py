"""Orders: filtered list (+ streamed CSV), detail with timeline, and the seller's actions."""
from __future__ import annotations

from django.contrib import messages
from django.db.models import Prefetch, Q
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from orders.models import Order, OrderEvent
from orders.services import OrderError, order_mark_fulfilled, order_update_delivery
from payments.models import Payment, PaymentEvent, Refund
from payments.selectors_dashboard import count_capped, orders_for_list, page_of, with_order_money
from sellers.csv_export import orders_csv_response
from sellers.forms import DeliveryForm, OrderFilterForm, RefundForm
from sellers.models import METHOD_CHOICES
from sellers.views.mixins import actor, seller_object, seller_required
from sellers.views.payments import refund_left
from sellers.views.sorting import sort_links
from webhooks.delivery import delivery_resend
from webhooks.models import WebhookDelivery

METHOD_LABELS = dict(METHOD_CHOICES)
SORT_COLUMNS = ("created", "amount", "reference", "status")


@seller_required
def order_list(request):
    form = OrderFilterForm(request.GET or None, seller=request.seller)
    filters = form.filters() if request.GET else {"sort": "-created"}
    qs = orders_for_list(request.seller, filters)
    if request.GET.get("export") == "csv":
        return orders_csv_response(with_order_money(qs), request.seller)
    page = page_of(qs, request.GET.get("page"))
    for order in page.object_list:
        order.method_label = METHOD_LABELS.get(order.last_method, "")
    total, capped = count_capped(qs)
    return render(request, "dashboard/orders_list.html", {
        "form": form, "page": page, "orders": page.object_list, "filtered": bool(request.GET),
        "total": total, "total_capped": capped,
        "sort_links": sort_links(request, filters.get("sort", "-created"), SORT_COLUMNS),
    })


def _latest_delivery(seller, order: Order, payment_ids: list[str]) -> WebhookDelivery | None:
    ids = [str(order.pk), *payment_ids]
    return (WebhookDelivery.objects.filter(seller=seller)
            .filter(Q(payload__data__id__in=ids) | Q(payload__data__order=str(order.pk))
                    | Q(payload__data__payment__in=payment_ids))
            .select_related("endpoint").order_by("-created_at").first())


def _timeline(order: Order) -> list:
    order_events = list(OrderEvent.objects.filter(order=order).select_related("actor_user"))
    payment_events = list(PaymentEvent.objects.filter(payment__order=order).select_related("actor_user", "payment"))
    for event in order_events:
        event.label = f"Order: {event.type.replace('order.', '').replace('_', ' ')}"
    for event in payment_events:
        event.label = (f"{event.payment.get_method_display()} payment: "
                       f"{event.type.replace('payment.', '').replace('_', ' ').replace('.', ' ')}")
    return sorted([*order_events, *payment_events], key=lambda e: (e.created_at, e.pk))


def _can_fulfil(order: Order) -> bool:
    # A partial refund does not undo the sale: the rest is still to be delivered (see order_mark_fulfilled).
    return order.status == Order.Status.PAID or (
        order.status == Order.Status.PARTIALLY_REFUNDED and order.fulfilled_at is None)


@seller_required
def order_detail(request, pk):
    order = seller_object(request, Order.objects.prefetch_related("items"), pk=pk)
    payments = list(Payment.objects.filter(order=order, seller=request.seller)
                    .prefetch_related(Prefetch("refunds", queryset=Refund.objects.order_by("-created_at")))
                    .order_by("-created_at"))
    for payment in payments:
        payment.refund_left = refund_left(payment)
        payment.refund_form = RefundForm(payment=payment, prefix=f"refund-{payment.pk}")
    delivery = _latest_delivery(request.seller, order, [str(p.pk) for p in payments])
    return render(request, "dashboard/order_detail.html", {
        "order": order, "items": list(order.items.all()), "payments": payments, "events": _timeline(order),
        "delivery_form": DeliveryForm(initial={"delivery_info": order.delivery_info}),
        "latest_delivery": delivery, "can_fulfil": _can_fulfil(order),
        "checkout_url": request.build_absolute_uri(f"/checkout/{order.checkout_token}/"),
        "can_pay": order.status == Order.Status.OPEN,
    })


@require_POST
@seller_required(write=True)
def order_delivery(request, pk):
    order = seller_object(request, Order.objects, pk=pk)
    form = DeliveryForm(request.POST)
    if form.is_valid():
        order_update_delivery(order=order, delivery_info=form.cleaned_data["delivery_info"], actor=actor(request))
        messages.success(request, "Delivery info saved.")
    else:
        messages.error(request, "Delivery info is too long (4000 characters at most).")
    return redirect("dashboard:order_detail", pk=order.pk)


@require_POST
@seller_required(write=True)
def order_fulfil(request, pk):
    order = seller_object(request, Order.objects, pk=pk)
    try:
        order_mark_fulfilled(order=order, actor=actor(request))
        messages.success(request, "Order marked as fulfilled.")
    except OrderError as exc:
        messages.error(request, exc.user_message)
    return redirect("dashboard:order_detail", pk=order.pk)


@require_POST
@seller_required(write=True)
def order_resend_webhook(request, pk):
    order = seller_object(request, Order.objects, pk=pk)
    payments = Payment.objects.filter(order=order, seller=request.seller)
    payment_ids = [str(p) for p in payments.values_list("pk", flat=True)]
    delivery = _latest_delivery(request.seller, order, payment_ids)
    if delivery is None:
        messages.error(request, "No webhook was sent for this order yet.")
    else:
        delivery = delivery_resend(delivery=delivery)
        if delivery.status == WebhookDelivery.Status.SUCCEEDED:
            messages.success(request, f"Webhook {delivery.event_type} delivered (HTTP {delivery.last_status_code}).")
        else:
            messages.warning(request, f"Webhook {delivery.event_type} resent but failed: "
                                      f"{delivery.last_error or 'no response'}. It will be retried.")
    return redirect("dashboard:order_detail", pk=order.pk)

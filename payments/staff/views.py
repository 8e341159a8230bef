"""The custom staff pages under /admin/ (config/urls_staff.py wraps each in admin_view).

Thin: parse the request, check the permission, call selectors or one staff action, render.
"""
from __future__ import annotations

import csv
import zoneinfo
from datetime import datetime

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from orders.actors import Actor
from payments.models import InboundWebhook, Payment, Receipt, Settlement
from payments.selectors_staff import (
    BALANCE_FILTERS,
    analytics_currencies,
    gmv_by_day,
    method_rates,
    platform_totals,
    review_count,
    review_items,
    seller_routing,
    seller_table,
)
from payments.services import PaymentStateError, receipt_assign
from payments.staff.actions import ACTIONS, can_run, run_staff_action
from payments.staff.charts import gmv_chart, top_sellers_chart
from payments.staff.confirm import confirmation_page, is_confirmed
from payments.staff.consequences import moves_money, receipt_assignment
from payments.staff.forms import AnalyticsFilterForm, ReceiptAssignForm
from sellers.csv_export import csv_safe
from sellers.models import Seller
from sellers.money import format_major, is_supported_currency
from webhooks.models import WebhookEndpoint

REVIEW_MODELS = {"payment": Payment, "receipt": Receipt, "webhook": InboundWebhook, "seller": Seller,
                 "settlement": Settlement, "endpoint": WebhookEndpoint}


def staff_time_zone() -> tuple[str, str]:
    """(IANA name, label) of the staff pages' clock: settings.STAFF_TIME_ZONE, e.g. ("Asia/Kolkata",
    "Asia/Kolkata (IST)"). One zone for the platform team keeps times comparable between colleagues."""
    name = settings.STAFF_TIME_ZONE or "UTC"
    abbreviation = datetime.now(zoneinfo.ZoneInfo(name)).tzname()
    return name, name if abbreviation in (name, None) else f"{name} ({abbreviation})"


def _context(request, title: str, **extra) -> dict:
    staff_tz, staff_tz_label = staff_time_zone()
    return {**admin.site.each_context(request), "title": title, "staff_tz": staff_tz,
            "staff_tz_label": staff_tz_label, **extra}


def staff_index(request):
    """Django's admin index, plus links to the staff pages and the review-queue count."""
    return admin.site.index(request, extra_context={"review_count": review_count()})


# --- analytics --------------------------------------------------------------------

@permission_required("payments.view_payment", raise_exception=True)
def analytics(request):
    form = AnalyticsFilterForm(request.GET or None)
    rng = form.date_range()
    if not form.is_bound:  # show the default range in the inputs
        form = AnalyticsFilterForm(initial={"start": rng.first_day, "end": rng.last_day, "tz": rng.tz_name})
    currencies = analytics_currencies() or ["INR"]
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    currency = (data.get("currency") or currencies[0]).upper()
    if not is_supported_currency(currency):
        messages.warning(request, f"“{currency}” is not a currency Kassa knows; showing {currencies[0]}.")
        currency = currencies[0]
    if currency not in currencies:
        currencies.append(currency)
    sort = data.get("sort") or "-volume"
    sellers = list(seller_table(rng, currency, sort))
    for s in sellers:
        s.success_rate = s.paid / s.payments_started if s.payments_started else None  # display only
    if request.GET.get("export") == "csv":
        return _analytics_csv(sellers, rng, currency)
    query = request.GET.copy()
    query.pop("sort", None)
    query.pop("export", None)
    columns = [_sort_column(key, label, sort) for key, label in SELLER_COLUMNS]
    return render(request, "admin/kassa/analytics.html", _context(
        request, "Platform analytics", form=form, rng=rng, currency=currency, currencies=currencies,
        totals=platform_totals(rng, currency), rates=method_rates(rng), sellers=sellers, sort=sort,
        base_query=query.urlencode(), columns=columns, gmv_chart=gmv_chart(gmv_by_day(rng, currency), rng, currency),
        top_chart=top_sellers_chart(sorted(sellers, key=lambda s: -s.volume)[:10], currency),
    ))


SELLER_COLUMNS = [("name", "Seller"), ("volume", "Volume"), ("orders", "Orders"), ("success", "Success rate"),
                  ("pending", "Pending"), ("exceptions", "Exceptions")]


def _sort_column(key: str, label: str, sort: str) -> dict:
    """A sortable header: the first click sorts descending, the next one ascending."""
    current, descending = sort.lstrip("-") == key, sort.startswith("-")
    return {"key": key, "label": label, "next": key if current and descending else f"-{key}",
            "arrow": ("▼" if descending else "▲") if current else ""}


def _analytics_csv(sellers, rng, currency: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="kassa-sellers-{rng.first_day}-{rng.last_day}-{currency}.csv"')
    writer = csv.writer(response)
    writer.writerow(["seller", "slug", "status", f"volume_{currency}", "orders", "payments", "paid",
                     "success_rate", "pending", "exceptions"])
    for s in sellers:
        writer.writerow([csv_safe(s.name), csv_safe(s.slug), s.status, format_major(s.volume, currency),
                         s.orders_count, s.payments_started, s.paid,
                         f"{s.success_bps / 100:.2f}%" if s.payments_started else "", s.pending, s.exceptions])
    return response


# --- routing ------------------------------------------------------------------------

@permission_required("payments.view_ledgerentry", raise_exception=True)
def routing(request):
    rows = seller_routing()
    ledger_url = reverse("admin:payments_ledgerentry_changelist")
    for row in rows:
        row.balance_rows = [
            {"currency": currency, "figures": [
                {"key": key, "amount": amounts[key],
                 "url": f"{ledger_url}?seller__id__exact={row.seller.pk}&currency__exact={currency}"
                        f"&custody__exact={BALANCE_FILTERS[key][0]}&settled={BALANCE_FILTERS[key][1]}"}
                for key in ("owed", "in_flight", "paid_out", "fee_receivable")]}
            for currency, amounts in sorted(row.balances.items())]
    return render(request, "admin/kassa/routing.html", _context(
        request, "Multi-seller routing and settlement", rows=rows,
        flagged=sum(1 for row in rows if row.problems),
    ))


# --- review queue ------------------------------------------------------------------

# Which one-click actions each kind of item offers (filtered by the user's permissions).
PAYMENT_ACTIONS = {"paid_late": ["accept_late", "refund_late"], "duplicate": ["refund_duplicate"]}


def _item_actions(item, user) -> list[tuple[str, str]]:
    if item.kind == "payment":
        codes = [code for exc in item.codes for code in PAYMENT_ACTIONS.get(exc, [])] + ["resolve", "recheck"]
    elif item.kind == "receipt":
        codes = ["ignore_receipt"]
    elif item.kind == "webhook":
        codes = (["reprocess_webhook"] if item.obj.signature_valid else []) + ["dismiss_webhook"]
    elif item.kind == "settlement":
        codes = ["retry_settlement", "dismiss_settlement"]
    elif item.kind == "endpoint":
        codes = ["enable_endpoint"]
    else:
        codes = []
    return [(code, ACTIONS[code].label, moves_money(code)) for code in dict.fromkeys(codes) if can_run(user, code)]


def _item_links(item, user) -> list[tuple[str, str]]:
    opts = item.obj._meta
    links = [("Open", reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[item.obj.pk]))]
    if item.kind == "receipt" and user.has_perm("payments.assign_receipt"):
        links.append(("Assign to payment…", reverse("staff-receipt-assign", args=[item.obj.pk])))
    return links


@permission_required("payments.view_payment", raise_exception=True)
def review(request):
    items = review_items()
    for item in items:
        item.actions = _item_actions(item, request.user)
        item.links = _item_links(item, request.user)
    return render(request, "admin/kassa/review.html", _context(request, "Review queue", items=items))


@require_POST
def review_act(request):
    """One click from the queue: POST kind, pk and action; checks the permission (403 otherwise)."""
    code = request.POST.get("action", "")
    model = REVIEW_MODELS.get(request.POST.get("kind", ""))
    if code not in ACTIONS or model is None or ACTIONS[code].model is not model:
        messages.error(request, "That action is not available for this item.")
        return HttpResponseRedirect(reverse("staff-review"))
    obj = get_object_or_404(model, pk=_review_pk(model, request.POST.get("pk")))
    if moves_money(code) and not is_confirmed(request):
        if not can_run(request.user, code):
            raise PermissionDenied(f"You may not {ACTIONS[code].label.lower()}.")
        return confirmation_page(
            request, code=code, label=ACTIONS[code].label, objects=[obj], action_url=reverse("staff-review-act"),
            hidden=[("kind", request.POST["kind"]), ("pk", str(obj.pk)), ("action", code)],
            cancel_url=reverse("staff-review"))
    run_staff_action(request, code, [obj])
    return HttpResponseRedirect(reverse("staff-review"))


def _review_pk(model, value):
    """The posted id as the model's key; a malformed one is as unknown as a missing one (404, not a 500)."""
    try:
        return model._meta.pk.to_python(value)
    except ValidationError:
        raise Http404("No such item.") from None


@permission_required("payments.assign_receipt", raise_exception=True)
def receipt_assign_view(request, pk: int):
    receipt = get_object_or_404(Receipt, pk=pk)
    form = ReceiptAssignForm(request.POST or None, receipt=receipt)
    if request.method == "POST" and form.is_valid():
        payment = form.cleaned_data["payment"]
        if not is_confirmed(request):  # crediting money to a payment: say what will happen first
            return render(request, "admin/kassa/receipt_assign.html", _context(
                request, f"Assign receipt {receipt}: are you sure?", receipt=receipt, form=form,
                already_assigned=receipt.payment_id is not None, payment=payment,
                consequence=receipt_assignment(receipt, payment)))
        try:
            result = receipt_assign(receipt=receipt, payment=payment, actor=Actor.staff(request.user))
        except PaymentStateError as exc:
            form.add_error(None, exc.user_message)
        else:
            if result.changed:
                admin.site._registry[Receipt].log_change(request, receipt, f"Assigned to payment {payment.pk}")
                messages.success(request, f"Receipt {receipt} assigned to payment {payment}.")
            else:
                messages.info(request, f"Receipt {receipt} was already assigned to that payment.")
            return HttpResponseRedirect(reverse("admin:payments_payment_change", args=[payment.pk]))
    return render(request, "admin/kassa/receipt_assign.html", _context(
        request, f"Assign receipt {receipt}", receipt=receipt, form=form,
        already_assigned=receipt.payment_id is not None,
    ))

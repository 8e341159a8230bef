"""Settings: store name, timezone, currency, checkout methods, payout destinations, fee (read-only)."""
from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render

from sellers.forms import PayoutDestinationForm, SettingsForm
from sellers.models import METHOD_CHOICES, PayoutDestination
from sellers.services import payout_destination_set, seller_update_settings
from sellers.two_factor import has_two_factor
from sellers.views.email_settings import email_settings_form
from sellers.views.mixins import WRITE_ROLES, seller_required
from sellers.views.payout_hints import PAYOUT_HINTS


def _payout_forms(seller, bound: PayoutDestinationForm | None = None):
    current = {d.method: d for d in PayoutDestination.objects.filter(seller=seller)}
    forms = []
    for method, label in METHOD_CHOICES:
        if bound is not None and bound.data.get("payout-method") == method:
            form = bound
        else:
            dest = current.get(method)
            form = PayoutDestinationForm(prefix="payout", initial={
                "method": method, "value": dest.value if dest else "", "label": dest.label if dest else ""})
        forms.append({"method": method, "label": label, "form": form, "current": current.get(method),
                      "hint": PAYOUT_HINTS[method]})
    return forms


def _settings_form(seller, data=None):
    return SettingsForm(data, initial={
        "name": seller.name, "timezone": seller.timezone, "locale": seller.locale,
        "default_currency": seller.default_currency,
        "support_email": seller.support_email, "enabled_methods": seller.enabled_methods,
        "require_two_factor": seller.require_two_factor,
    })


@seller_required
def settings_view(request):
    seller = request.seller
    settings_form, payout_bound, status = _settings_form(seller), None, 200
    if request.method == "POST":
        if request.seller_role not in WRITE_ROLES:
            raise PermissionDenied("Viewers cannot change settings.")
        if "payout-method" in request.POST:
            payout_bound = PayoutDestinationForm(request.POST, prefix="payout")
            if payout_bound.is_valid():
                data = payout_bound.cleaned_data
                try:
                    payout_destination_set(seller=seller, method=data["method"], value=data["value"],
                                           label=data.get("label") or "")
                except ValidationError as exc:
                    for message in exc.message_dict.get("value", []) + exc.message_dict.get("__all__", []):
                        payout_bound.add_error("value", message)
                else:
                    messages.success(request, f"{dict(METHOD_CHOICES)[data['method']]} payout destination saved.")
                    return redirect("dashboard:settings")
            status = 400
        else:
            settings_form = _settings_form(seller, request.POST)
            if settings_form.is_valid():
                try:
                    seller_update_settings(seller=seller, **settings_form.cleaned_data)
                except ValidationError as exc:
                    for field, errors in exc.message_dict.items():
                        settings_form.add_error(field if field in settings_form.fields else None, errors)
                else:
                    messages.success(request, "Settings saved.")
                    return redirect("dashboard:settings")
            status = 400
    return render(request, "dashboard/settings.html", {
        "settings_form": settings_form, "payouts": _payout_forms(seller, payout_bound),
        "fee_bps": seller.effective_fee_bps, "fee_is_default": seller.fee_bps is None,
        "fee_pct": f"{Decimal(seller.effective_fee_bps) / 100:f}".rstrip("0").rstrip(".") + "%",
        "two_factor_on": has_two_factor(request.user),
        "email_form": email_settings_form(seller),
    }, status=status)

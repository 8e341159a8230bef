"""The email settings card's POST (the card is on /dashboard/settings/)."""
from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from notifications.forms import SellerEmailSettingsForm
from notifications.services import seller_email_settings_save
from sellers.views.mixins import seller_required


def email_settings_form(seller) -> SellerEmailSettingsForm:
    return SellerEmailSettingsForm(seller=seller)


@require_POST
@seller_required(write=True)
def email_settings_view(request):
    form = SellerEmailSettingsForm(request.POST, seller=request.seller)
    if form.is_valid():
        seller_email_settings_save(seller=request.seller, **form.cleaned_data)
        messages.success(request, "Email settings saved.")
    else:  # only a tampered form gets here: recipients outside the seller, an unknown kind or mode
        messages.error(request, "Email settings not saved: " + "; ".join(
            f"{form.fields[name].label}: {' '.join(errors)}" for name, errors in form.errors.items()))
    return redirect("dashboard:settings")

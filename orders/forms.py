"""Shopper forms: Buy on the storefront and "I've paid" on the pay page."""
from __future__ import annotations

import re

from django import forms

MAX_QUANTITY = 99
# A block hash (64 hex) or a gateway reference; letters, digits and a few separators only.
REFERENCE_RE = re.compile(r"^[A-Za-z0-9_|:.\-]{1,200}$")


class BuyForm(forms.Form):
    product = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    quantity = forms.IntegerField(min_value=1, max_value=MAX_QUANTITY, initial=1, required=False,
                                  widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
    # One per rendered storefront: the same form submitted twice names the same order.
    nonce = forms.CharField(max_length=64, required=False, widget=forms.HiddenInput)

    def clean_quantity(self) -> int:
        return self.cleaned_data.get("quantity") or 1

    def clean_nonce(self) -> str:
        nonce = self.cleaned_data.get("nonce", "")
        return nonce if re.fullmatch(r"[A-Za-z0-9_\-]{16,64}", nonce or "") else ""


class CheckoutEmailForm(forms.Form):
    """The receipt's address, asked on checkout; required when the seller says so."""

    customer_email = forms.EmailField(
        label="Email for your receipt", required=False, max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "placeholder": "you@example.com"}))

    def __init__(self, *args, required: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["customer_email"].required = required
        if not required:
            self.fields["customer_email"].label = "Email for your receipt (optional)"
        self.fields["customer_email"].error_messages["required"] = "Enter your email address for the receipt."


class VerifyForm(forms.Form):
    reference = forms.CharField(
        label="Transaction or block hash (optional)", required=False, max_length=200, strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "off",
                                      "placeholder": "e.g. 991CF190094C00F0B68E2E5F75F6BEE9…"}),
    )

    def clean_reference(self) -> str:
        reference = self.cleaned_data.get("reference", "")
        if reference and not REFERENCE_RE.match(reference):
            raise forms.ValidationError("That does not look like a transaction hash. Paste it exactly as your "
                                        "wallet shows it, or leave the field empty.")
        return reference

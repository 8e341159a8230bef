"""Dashboard forms: list filters, order actions, products, settings, developers.

Money fields are text parsed with sellers.money.parse_major into integer minor units,
so "12.34" never passes through a float.
"""
from __future__ import annotations

import uuid
import zoneinfo

from django import forms
from django.core.exceptions import ValidationError

from orders.models import Order, Product
from payments.analytics import EARLIEST_DAY, LATEST_DAY
from payments.models import Payment
from sellers.models import LOCALE_CHOICES, METHOD_CHOICES
from sellers.money import EXPONENTS, format_major, format_minor, parse_major
from sellers.validators import validate_webhook_url
from webhooks.models import WebhookEndpoint

COMMON_CURRENCIES = ["INR", "USD", "EUR", "GBP", "XNO"]
DATE_INPUT = forms.DateInput(attrs={"type": "date"})


def _currency_choices(extra: str = "") -> list[tuple[str, str]]:
    codes = list(dict.fromkeys([*(c for c in [extra] if c), *COMMON_CURRENCIES]))
    return [(c, c) for c in codes]


class MoneyField(forms.CharField):
    """Text in major units; cleaned to minor units by the form, which knows the currency."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}))
        super().__init__(**kwargs)


def _parse_money(form: forms.Form, name: str, currency: str) -> int | None:
    text = form.cleaned_data.get(name) or ""
    if not text:
        return None
    try:
        return parse_major(text, currency)
    except ValueError as exc:
        form.add_error(name, str(exc))
        return None


# --- list filters -----------------------------------------------------------------------------

ORDER_SORTS = {"created": "created_at", "amount": "amount", "reference": "reference", "status": "status"}
PAYMENT_SORTS = {"created": "created_at", "amount": "amount", "method": "method", "status": "status"}


class ListFilterForm(forms.Form):
    """Shared by the orders and payments lists. Invalid fields are dropped, never a 500."""

    SORTS: dict[str, str] = ORDER_SORTS
    STATUS_CHOICES: list = []

    q = forms.CharField(label="Search", required=False, max_length=200,
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Reference, email, id, tx id"}))
    status = forms.ChoiceField(required=False)
    method = forms.ChoiceField(required=False, choices=[("", "Any method"), *METHOD_CHOICES])
    date_from = forms.DateField(label="From", required=False, widget=DATE_INPUT)
    date_to = forms.DateField(label="To", required=False, widget=DATE_INPUT)
    currency = forms.ChoiceField(required=False)
    amount_min = MoneyField(label="Min amount", required=False)
    amount_max = MoneyField(label="Max amount", required=False)
    sort = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, seller, **kwargs):
        super().__init__(*args, **kwargs)
        self.seller = seller
        self.fields["status"].choices = [("", "Any status"), *self.STATUS_CHOICES]
        self.fields["currency"].choices = [("", "Any currency"), *_currency_choices(seller.default_currency)]

    def _clean_day(self, name: str):
        # Outside the window a day's bounds in the seller's zone overflow datetime (year 1, 9999-12-31 + 1 day).
        value = self.cleaned_data.get(name)
        if value and not EARLIEST_DAY <= value <= LATEST_DAY:
            raise ValidationError(f"Use a date between {EARLIEST_DAY} and {LATEST_DAY}.")
        return value

    def clean_date_from(self):
        return self._clean_day("date_from")

    def clean_date_to(self):
        return self._clean_day("date_to")

    def clean_sort(self) -> str:
        value = self.cleaned_data.get("sort") or "-created"
        return value if value.lstrip("-") in self.SORTS else "-created"

    def clean(self):
        data = super().clean()
        currency = data.get("currency") or self.seller.default_currency
        data["amount_min_minor"] = _parse_money(self, "amount_min", currency)
        data["amount_max_minor"] = _parse_money(self, "amount_max", currency)
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "“To” is before “From”.")
        return data

    def filters(self) -> dict:
        """Valid values only; a bad field is ignored (its error is shown) rather than failing the page."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {name: value for name, value in data.items() if name not in self.errors and value not in (None, "")}

    @property
    def search_uuid(self) -> uuid.UUID | None:
        try:
            return uuid.UUID((self.cleaned_data.get("q") or "").strip())
        except ValueError:
            return None


# payments.selectors_dashboard.STATUS_GROUPS: the overview's figures link to this.
STATUS_GROUP_CHOICES = [("any_paid", "Paid (refunded or not)"), ("any_refunded", "Refunded (partly or fully)")]


class OrderFilterForm(ListFilterForm):
    SORTS = ORDER_SORTS
    STATUS_CHOICES = [*STATUS_GROUP_CHOICES, *Order.Status.choices]


class PaymentFilterForm(ListFilterForm):
    SORTS = PAYMENT_SORTS
    STATUS_CHOICES = [*STATUS_GROUP_CHOICES, *Payment.Status.choices]


# --- order actions ------------------------------------------------------------------------------

class RefundForm(forms.Form):
    """A partial amount, or `full` (the "Refund the full …" button): an empty amount is never a full refund."""

    amount = MoneyField(label="Amount to refund", required=False)
    full = forms.BooleanField(required=False, widget=forms.HiddenInput)
    reason = forms.CharField(max_length=200, required=False)
    # The confirmation page's count of the payment's refunds: a second click on it finds one more and stops.
    refunds_seen = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def __init__(self, *args, payment: Payment, **kwargs):
        super().__init__(*args, **kwargs)
        self.payment = payment

    def clean(self):
        data = super().clean()
        left = self.payment.refundable_amount
        if data.get("full"):
            data["amount_minor"] = None  # everything left when it runs (payment_refund knows what is pending)
            return data
        data["amount_minor"] = _parse_money(self, "amount", self.payment.currency)
        amount = data["amount_minor"]
        if amount is None and "amount" not in self.errors:
            self.add_error("amount", f"Enter an amount, or choose “Refund the full "
                                     f"{format_minor(left, self.payment.currency)}”.")
        elif amount == 0:
            self.add_error("amount", "A refund must be more than zero.")
        elif amount is not None and amount > left:
            self.add_error("amount", f"At most {format_minor(left, self.payment.currency)} is left to refund.")
        return data


class DeliveryForm(forms.Form):
    delivery_info = forms.CharField(label="Delivery / fulfilment info", required=False, max_length=4000,
                                    widget=forms.Textarea(attrs={"rows": 3}))


# --- products and payment links ---------------------------------------------------------------------

class ProductForm(forms.ModelForm):
    price = MoneyField(label="Price")

    class Meta:
        model = Product
        fields = ["name", "description", "currency"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, seller, **kwargs):
        super().__init__(*args, **kwargs)
        current = self.instance.currency if self.instance.pk else seller.default_currency
        self.fields["currency"] = forms.ChoiceField(choices=_currency_choices(current), initial=current)
        if self.instance.pk:
            self.fields["price"].initial = format_major(self.instance.unit_amount, self.instance.currency)

    def clean(self):
        data = super().clean()
        amount = _parse_money(self, "price", data.get("currency") or "INR")
        if amount is not None and amount <= 0:
            self.add_error("price", "The price must be more than zero.")
        data["unit_amount"] = amount
        return data


class PaymentLinkForm(forms.Form):
    amount = MoneyField(label="Amount")
    currency = forms.ChoiceField()
    description = forms.CharField(label="What it is for", max_length=120)
    reference = forms.CharField(max_length=64, required=False)
    customer_email = forms.EmailField(required=False)

    def __init__(self, *args, seller, **kwargs):
        # Shares the Products page with ProductForm: its own ids, so "What it is for" focuses this field.
        kwargs.setdefault("auto_id", "link_%s")
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = _currency_choices(seller.default_currency)
        self.fields["currency"].initial = seller.default_currency

    def clean(self):
        data = super().clean()
        amount = _parse_money(self, "amount", data.get("currency") or "INR")
        if amount is not None and amount <= 0:
            self.add_error("amount", "The amount must be more than zero.")
        data["amount_minor"] = amount
        return data


# --- settings -------------------------------------------------------------------------------------

def _timezone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())]


class SettingsForm(forms.Form):
    name = forms.CharField(label="Store name", max_length=120)
    timezone = forms.ChoiceField(
        choices=_timezone_choices, help_text="Dates on your dashboard and in CSV exports use this zone.",
        error_messages={"invalid_choice": "“%(value)s” is not a known timezone. Pick one from the list."})
    locale = forms.ChoiceField(
        label="Number and date format", required=False,
        choices=[("", "Automatic: English (India) for INR, else English"), *LOCALE_CHOICES],
        error_messages={"invalid_choice": "Pick a format from the list."})
    default_currency = forms.ChoiceField(choices=_currency_choices())
    support_email = forms.EmailField(required=False)
    enabled_methods = forms.MultipleChoiceField(label="Methods offered at checkout", choices=METHOD_CHOICES,
                                                required=False, widget=forms.CheckboxSelectMultiple)
    require_two_factor = forms.BooleanField(
        label="Require two-factor login for everyone on this account", required=False,
        help_text="Members without an authenticator app are asked to set one up at their next page.")

    def clean_default_currency(self) -> str:
        value = self.cleaned_data["default_currency"]
        if value not in EXPONENTS:
            raise ValidationError("Unsupported currency.")
        return value


class PayoutDestinationForm(forms.Form):
    method = forms.ChoiceField(choices=METHOD_CHOICES, widget=forms.HiddenInput)
    value = forms.CharField(label="Destination", max_length=128, required=False)
    label = forms.CharField(max_length=80, required=False)


# --- developers -----------------------------------------------------------------------------------

class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=80, initial="Default")
    mode = forms.ChoiceField(choices=[("test", "Test"), ("live", "Live")], initial="test")


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(label="Endpoint URL", max_length=500, assume_scheme="https",
                         validators=[validate_webhook_url])  # the same SSRF rule as the API
    events = forms.MultipleChoiceField(choices=[(e, e) for e in WebhookEndpoint.EVENT_TYPES], required=False,
                                       widget=forms.CheckboxSelectMultiple, help_text="None selected means all events.")
    description = forms.CharField(max_length=120, required=False)


class SecondFactorForm(forms.Form):
    """The login's second step: a code from the authenticator app, or a recovery code."""

    code = forms.CharField(label="Code", max_length=32, strip=True, widget=forms.TextInput(attrs={
        "autocomplete": "one-time-code", "inputmode": "text", "autofocus": True, "spellcheck": "false"}),
        help_text="The 6-digit code from your authenticator app, or one of your recovery codes.")


class TotpConfirmForm(forms.Form):
    code = forms.CharField(label="Code from the app", max_length=8, strip=True, widget=forms.TextInput(attrs={
        "autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9 ]*", "spellcheck": "false"}))

"""Forms for the staff pages: the analytics filter and the receipt assignment."""
import zoneinfo
from datetime import timedelta

from django import forms
from django.utils import timezone

from payments.analytics import EARLIEST_DAY, LATEST_DAY
from payments.models import Payment
from payments.selectors_staff import SELLER_SORTS, DateRange
from sellers.money import format_minor

MAX_DAYS = 366
TIMEZONES = ["UTC", "Asia/Kolkata", "Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles",
             "Asia/Singapore", "Australia/Sydney"]
SORT_CHOICES = [(key, key) for key in SELLER_SORTS] + [(f"-{key}", f"-{key}") for key in SELLER_SORTS]


class AnalyticsFilterForm(forms.Form):
    start = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    tz = forms.CharField(required=False, label="Time zone", initial="UTC")
    currency = forms.CharField(required=False, max_length=5)
    sort = forms.ChoiceField(required=False, choices=SORT_CHOICES)

    def clean_tz(self):
        value = self.cleaned_data.get("tz") or "UTC"
        if value not in zoneinfo.available_timezones():
            raise forms.ValidationError(f"“{value}” is not a known time zone, e.g. Asia/Kolkata.")
        return value

    def clean(self):
        data = super().clean()
        for name in ("start", "end"):  # outside the window a day's bounds overflow datetime
            if data.get(name) and not EARLIEST_DAY <= data[name] <= LATEST_DAY:
                self.add_error(name, f"Use a date between {EARLIEST_DAY} and {LATEST_DAY}.")
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            self.add_error("end", "The end date is before the start date.")
        if start and ((end or _today(data)) - start).days >= MAX_DAYS:  # a start alone runs to today
            self.add_error("start", f"Choose at most {MAX_DAYS} days.")
        return data

    def date_range(self) -> DateRange:
        """The chosen range, or the last 30 local days when a field is empty or invalid."""
        data = self.cleaned_data if self.is_valid() else {}
        end = data.get("end") or _today(data)
        start = data.get("start") or end - timedelta(days=29)
        return DateRange(start, end, data.get("tz") or "UTC")


def _today(data: dict):
    return timezone.now().astimezone(zoneinfo.ZoneInfo(data.get("tz") or "UTC")).date()


class ReceiptAssignForm(forms.Form):
    payment = forms.ModelChoiceField(queryset=Payment.objects.none(), widget=forms.RadioSelect,
                                     empty_label=None)

    def __init__(self, *args, receipt, **kwargs):
        super().__init__(*args, **kwargs)
        # Only payments of the same method on the same address: the service checks again.
        self.fields["payment"].queryset = (Payment.objects.filter(method=receipt.provider, pay_to=receipt.pay_to)
                                           .select_related("order").order_by("-created_at"))
        self.fields["payment"].label_from_instance = (
            lambda p: f"{p.created_at:%Y-%m-%d %H:%M} UTC · order {p.order} · "
                      f"{format_minor(p.amount_due, p.pay_currency)} · {p.get_status_display()}")

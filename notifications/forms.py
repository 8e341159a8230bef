"""The seller's email settings card on /dashboard/settings/ (templates/dashboard/_email_settings.html)."""
from django import forms

from notifications.kinds import SELLER_KINDS
from notifications.models import SellerEmailSettings
from notifications.selectors import seller_email_settings, seller_members

KIND_LABELS = {
    "order_paid": "An order was paid",
    "money_attention": "Money needs attention (late, duplicate, overpaid, underpaid, unmatched)",
    "refund_request": "A partner-app shopper asks for a refund",
    "webhook_disabled": "A webhook endpoint was disabled",
    "settlement_failed": "A settlement (transfer or payout) failed",
    "weekly_report": "Weekly report with the orders CSV",
}


class SellerEmailSettingsForm(forms.Form):
    enabled_kinds = forms.MultipleChoiceField(
        label="Email me when", required=False, widget=forms.CheckboxSelectMultiple,
        choices=[(kind.value, KIND_LABELS[kind.value]) for kind in SELLER_KINDS])
    order_paid_mode = forms.ChoiceField(label="Paid orders", choices=SellerEmailSettings.OrderPaid.choices,
                                        widget=forms.RadioSelect)
    recipients = forms.ModelMultipleChoiceField(
        label="Recipients", required=False, queryset=None, widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every owner and admin.")
    require_customer_email = forms.BooleanField(
        label="Require an email address at checkout", required=False,
        help_text="Otherwise shoppers may leave it empty and get no receipt.")

    def __init__(self, *args, seller, **kwargs):
        config = seller_email_settings(seller)
        kwargs.setdefault("initial", {
            "enabled_kinds": [kind.value for kind in SELLER_KINDS if config.is_enabled(kind)],
            "order_paid_mode": config.order_paid_mode,
            "recipients": list(config.recipients.all()) if config.pk else [],
            "require_customer_email": config.require_customer_email,
        })
        super().__init__(*args, prefix="email", **kwargs)
        members = seller_members(seller).exclude(email="")
        self.fields["recipients"].queryset = members
        self.fields["recipients"].label_from_instance = lambda user: f"{user.get_username()} <{user.email}>"

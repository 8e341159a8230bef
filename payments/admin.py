"""Staff admin for payments. Payment state changes only through the staff actions
(payments.staff.actions), which call payments.services with Actor.staff(user)."""
from django.contrib import admin, messages
from django.db.models import OuterRef, Subquery
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from payments.models import (
    InboundWebhook,
    LedgerEntry,
    NanoCursor,
    Payment,
    PaymentEvent,
    Receipt,
    Refund,
    RefundRequest,
    Settlement,
    SettlementItem,
    method_name,
)
from payments.selectors_staff import SETTLED_FILTERS
from payments.staff.actions import StaffActionsMixin, staff_action
from payments.staff.display import money_column


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ExceptionFilter(admin.SimpleListFilter):
    title = "exception"
    parameter_name = "exception"

    def lookups(self, request, model_admin):
        return [("any", "Any exception"), *Payment.Exception_.choices]

    def queryset(self, request, queryset):
        if self.value() == "any":
            return queryset.exclude(review_status=Payment.Review.NONE)
        if self.value() in Payment.Exception_.values:
            return queryset.with_exception(self.value())
        return queryset


class PaymentEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PaymentEvent
    extra = 0
    fields = ["created_at", "type", "from_status", "to_status", "actor_type", "actor_user", "data"]


class ReceiptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Receipt
    extra = 0
    fields = ["external_tx_id", "received", "state", "resolution", "created_at"]
    readonly_fields = fields

    @admin.display(description="amount")
    def received(self, obj):
        return obj.amount_display


class RefundInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Refund
    extra = 0
    fields = ["refund_amount", "status", "reason", "actor_type", "actor_user", "created_at"]
    readonly_fields = fields
    refund_amount = money_column("amount", "payment.currency", "amount")


@admin.register(Payment)
class PaymentAdmin(StaffActionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    # Short ids and no address keep the list within 1366 px beside the admin's sidebar; the change page has
    # everything whole, and the review status is a filter (and the review queue).
    list_display = ["short_id", "seller", "method_short", "status", "exceptions", "order_amount", "due",
                    "created"]
    list_display_links = ["short_id"]
    list_filter = ["status", "method", ExceptionFilter, "review_status", "seller",
                   ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=id", "tx_id", "pay_to", "provider_ref", "order__reference", "order__customer_email"]
    date_hierarchy = "created_at"
    readonly_fields = ["order_amount", "due", "received", "refunded",
                       *[f.name for f in Payment._meta.fields]]
    inlines = [ReceiptInline, RefundInline, PaymentEventInline]
    list_select_related = ["seller"]
    show_full_result_count = False
    actions = [staff_action(code) for code in
               ("recheck", "expire", "refund", "accept_late", "refund_late", "refund_duplicate", "resolve")]

    order_amount = money_column("amount", "currency", "amount")
    due = money_column("amount_due", "pay_currency", "due")
    refunded = money_column("refunded_amount", "currency", "refunded")

    @admin.display(description="id", ordering="id")
    def short_id(self, obj):
        return obj.short_id

    @admin.display(description="received")
    def received(self, obj):
        return obj.amount_received_display

    @admin.display(description="method", ordering="method")
    def method_short(self, obj):
        return method_name(obj.method)

    @admin.display(description="created (UTC)", ordering="created_at")
    def created(self, obj):
        return f"{obj.created_at:%d %b %Y %H:%M}"


@admin.register(PaymentEvent)
class PaymentEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "payment", "type", "from_status", "to_status", "actor_type", "actor_user"]
    list_filter = ["type", "actor_type"]
    date_hierarchy = "created_at"
    list_select_related = ["payment", "actor_user"]


class UnmatchedFilter(admin.SimpleListFilter):
    title = "needs assignment"
    parameter_name = "unmatched"

    def lookups(self, request, model_admin):
        return [("yes", "Unmatched and open")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(payment__isnull=True, resolution=Receipt.Resolution.NONE)
        return queryset


@admin.register(Receipt)
class ReceiptAdmin(StaffActionsMixin, admin.ModelAdmin):
    list_display = ["short_tx", "provider", "short_pay_to", "received", "state", "resolution", "payment", "created_at"]
    list_filter = [UnmatchedFilter, "provider", "state", "resolution"]
    search_fields = ["external_tx_id", "pay_to", "source_account"]
    date_hierarchy = "created_at"
    readonly_fields = ["received", *[f.name for f in Receipt._meta.fields]]
    list_select_related = ["payment"]
    actions = ["assign_to_payment", staff_action("ignore_receipt")]

    @admin.display(description="tx", ordering="external_tx_id")
    def short_tx(self, obj):
        return f"{obj.external_tx_id[:16]}…" if len(obj.external_tx_id) > 18 else obj.external_tx_id

    @admin.display(description="pay to")
    def short_pay_to(self, obj):
        return f"{obj.pay_to[:14]}…" if len(obj.pay_to) > 16 else obj.pay_to

    @admin.display(description="amount")
    def received(self, obj):
        return obj.amount_display

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_assign_receipt_permission(self, request):
        return request.user.has_perm("payments.assign_receipt")

    @admin.action(description="Assign to payment…", permissions=["assign_receipt"])
    def assign_to_payment(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one receipt to assign.", messages.WARNING)
            return None
        return HttpResponseRedirect(reverse("staff-receipt-assign", args=[queryset.get().pk]))


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["__str__", "payment", "seller", "refund_amount", "status", "actor_type", "actor_user",
                    "created_at"]
    list_filter = ["status", "seller"]
    search_fields = ["=id", "provider_refund_id"]
    date_hierarchy = "created_at"
    list_select_related = ["seller", "payment", "actor_user"]
    readonly_fields = ["refund_amount"]
    refund_amount = money_column("amount", "payment.currency", "amount")


@admin.register(RefundRequest)
class RefundRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["payment", "seller", "partner_user_id", "status", "created_at"]
    list_filter = ["status"]
    list_select_related = ["seller", "payment"]


@admin.register(InboundWebhook)
class InboundWebhookAdmin(StaffActionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["event_id", "provider", "event_type", "signature_valid", "status", "short_error", "attempts",
                    "received_at", "reviewed_at"]
    list_filter = ["provider", "status", "signature_valid", "event_type", ("reviewed_at", admin.EmptyFieldListFilter)]
    search_fields = ["event_id"]
    date_hierarchy = "received_at"
    fields = ["provider", "event_id", "event_type", "signature_valid", "status", "error", "attempts", "received_at",
              "processed_at", "reviewed_at", "reviewed_by", "headers", "raw_body"]
    readonly_fields = fields
    actions = [staff_action("reprocess_webhook"), staff_action("dismiss_webhook")]

    @admin.display(description="result")
    def short_error(self, obj):
        return obj.error[:80]

    @admin.display(description="raw body")
    def raw_body(self, obj):
        return format_html('<pre style="white-space:pre-wrap;max-width:60em">{}</pre>', obj.body)


class SettledFilter(admin.SimpleListFilter):
    """Which ledger rows a routing balance is made of (payments.selectors_staff.BALANCE_FILTERS)."""

    title = "settlement"
    parameter_name = "settled"

    def lookups(self, request, model_admin):
        return [("open", "Not settled (or settlement failed)"), ("in_flight", "Settlement in flight"),
                ("paid", "Settled"), ("unpaid", "Not yet paid (any)")]

    def queryset(self, request, queryset):
        statuses = SETTLED_FILTERS.get(self.value())
        return queryset.filter(settlement_status__in=statuses) if statuses else queryset


# The settlement changelist links here to show the rows one settlement covered (released ones too).
COVERED_BY = "settlement_items__settlement__id__exact"


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "seller", "kind", "method", "custody", "gross_display", "fee_display",
                    "net_display", "settlement"]
    list_filter = [SettledFilter, "kind", "method", "custody", "currency", "seller"]
    date_hierarchy = "created_at"
    list_select_related = ["seller"]
    show_full_result_count = False

    def get_queryset(self, request):
        # Which settlement covers each row now lives in its own table (the row itself never changes).
        live = SettlementItem.objects.live().filter(entry=OuterRef("pk"))
        return (super().get_queryset(request).with_settlement_status()
                .annotate(settlement_pk=Subquery(live.values("settlement_id")[:1])))

    gross_display = money_column("gross", "currency", "gross")
    fee_display = money_column("fee", "currency", "fee")
    net_display = money_column("net", "currency", "net")

    def lookup_allowed(self, lookup, value, request=None):
        return lookup == COVERED_BY or super().lookup_allowed(lookup, value, request)

    @admin.display(description="settlement")
    def settlement(self, obj):
        if obj.settlement_pk is None:
            return self.get_empty_value_display()
        url = reverse("admin:payments_settlement_change", args=[obj.settlement_pk])
        return format_html('<a href="{}">#{} {}</a>', url, obj.settlement_pk,
                           Settlement.Status(obj.settlement_status).label.lower())


@admin.register(Settlement)
class SettlementAdmin(StaffActionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    actions = [staff_action("retry_settlement"), staff_action("dismiss_settlement")]
    list_display = ["created_at", "seller", "kind", "method", "settled_amount", "status", "provider_ref",
                    "ledger_link"]
    list_filter = ["status", "kind", "method", "seller"]
    date_hierarchy = "created_at"
    list_select_related = ["seller"]
    readonly_fields = ["settled_amount"]
    settled_amount = money_column("amount", "currency", "amount")

    @admin.display(description="ledger")
    def ledger_link(self, obj):
        url = reverse("admin:payments_ledgerentry_changelist") + f"?{COVERED_BY}={obj.pk}"
        return format_html('<a href="{}">entries</a>', url)


@admin.register(NanoCursor)
class NanoCursorAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["address", "frontier", "updated_at"]
    search_fields = ["address"]

from django.contrib import admin

from payments.models import (
    InboundWebhook, LedgerEntry, NanoCursor, Payment, PaymentEvent, Receipt, Refund, RefundRequest, Settlement,
)


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PaymentEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = PaymentEvent
    extra = 0
    fields = ["created_at", "type", "from_status", "to_status", "actor_type", "actor_user", "data"]


class ReceiptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Receipt
    extra = 0
    fields = ["external_tx_id", "amount", "state", "resolution", "created_at"]


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ["id", "seller", "method", "status", "exceptions", "amount", "currency", "pay_to",
                    "expires_at", "created_at"]
    list_filter = ["status", "method", "review_status", "seller"]
    search_fields = ["=id", "tx_id", "pay_to", "provider_ref", "order__reference", "order__customer_email"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Payment._meta.fields]
    inlines = [ReceiptInline, PaymentEventInline]
    list_select_related = ["seller"]
    show_full_result_count = False


@admin.register(PaymentEvent)
class PaymentEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "payment", "type", "from_status", "to_status", "actor_type"]
    list_filter = ["type", "actor_type"]
    date_hierarchy = "created_at"


@admin.register(Receipt)
class ReceiptAdmin(admin.ModelAdmin):
    list_display = ["external_tx_id", "provider", "pay_to", "amount", "state", "resolution", "payment", "created_at"]
    list_filter = ["provider", "state", "resolution"]
    search_fields = ["external_tx_id", "pay_to", "source_account"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Receipt._meta.fields]


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    list_display = ["id", "payment", "seller", "amount", "status", "provider_refund_id", "created_at"]
    list_filter = ["status", "seller"]
    search_fields = ["=id", "provider_refund_id"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Refund._meta.fields]


@admin.register(RefundRequest)
class RefundRequestAdmin(admin.ModelAdmin):
    list_display = ["payment", "seller", "partner_user_id", "status", "created_at"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in RefundRequest._meta.fields]


@admin.register(InboundWebhook)
class InboundWebhookAdmin(admin.ModelAdmin):
    list_display = ["event_id", "provider", "event_type", "signature_valid", "status", "attempts", "received_at"]
    list_filter = ["provider", "status", "signature_valid", "event_type"]
    search_fields = ["event_id"]
    date_hierarchy = "received_at"
    readonly_fields = [f.name for f in InboundWebhook._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "seller", "kind", "method", "custody", "currency", "gross", "fee", "net",
                    "settlement"]
    list_filter = ["kind", "method", "custody", "seller"]
    date_hierarchy = "created_at"
    list_select_related = ["seller", "settlement"]


@admin.register(Settlement)
class SettlementAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "seller", "kind", "method", "amount", "currency", "status", "provider_ref"]
    list_filter = ["status", "kind", "method", "seller"]
    date_hierarchy = "created_at"
    list_select_related = ["seller"]


@admin.register(NanoCursor)
class NanoCursorAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["address", "frontier", "updated_at"]
    search_fields = ["address"]

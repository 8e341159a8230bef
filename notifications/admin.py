"""The outbox for staff: filter by kind and status, see failures, resend."""
from django.contrib import admin, messages

from notifications.models import OutboxEmail, SellerEmailSettings
from notifications.services import outbox_resend


@admin.register(OutboxEmail)
class OutboxEmailAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "status", "seller", "subject", "attempts", "last_error", "created_at", "sent_at")
    list_filter = ("kind", "status")
    search_fields = ("key", "subject")
    actions = ["resend"]
    readonly_fields = [f.name for f in OutboxEmail._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_resend_permission(self, request) -> bool:
        return request.user.has_perm("notifications.resend_email")

    @admin.action(description="Resend the selected emails (failed or sent)", permissions=["resend"])
    def resend(self, request, queryset):
        count = outbox_resend(email_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} email(s) queued again.", messages.SUCCESS)


@admin.register(SellerEmailSettings)
class SellerEmailSettingsAdmin(admin.ModelAdmin):
    list_display = ("seller", "order_paid_mode", "require_customer_email")
    raw_id_fields = ("seller",)

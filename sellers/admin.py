from django.contrib import admin

from sellers.models import (
    ApiKey, IdempotencyKey, PayoutDestination, Seller, SellerMembership, WebhookAttempt, WebhookDelivery,
    WebhookEndpoint,
)


class MembershipInline(admin.TabularInline):
    model = SellerMembership
    extra = 0
    autocomplete_fields = ["user"]


class PayoutDestinationInline(admin.TabularInline):
    model = PayoutDestination
    extra = 0


@admin.register(Seller)
class SellerAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "status", "fee_bps", "timezone", "default_currency", "created_at"]
    list_filter = ["status", "default_currency"]
    search_fields = ["name", "slug", "support_email"]
    prepopulated_fields = {"slug": ["name"]}
    date_hierarchy = "created_at"
    inlines = [MembershipInline, PayoutDestinationInline]


@admin.register(SellerMembership)
class SellerMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "seller", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email", "seller__name"]
    autocomplete_fields = ["user", "seller"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "name", "seller", "mode", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["mode", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "name", "seller__name"]
    readonly_fields = ["prefix", "key_hash", "created_at", "last_used_at"]
    list_select_related = ["seller"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "seller", "is_active", "failing_since", "disabled_at", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["url", "seller__name"]
    readonly_fields = ["secret", "created_at", "failing_since", "disabled_at"]
    list_select_related = ["seller"]


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["attempted_at", "status_code", "error", "duration_ms", "response_excerpt"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["message_id", "event_type", "endpoint", "status", "attempts", "last_status_code",
                    "next_attempt_at", "created_at"]
    list_filter = ["status", "event_type"]
    search_fields = ["message_id", "endpoint__url"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    inlines = [WebhookAttemptInline]
    list_select_related = ["endpoint"]


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ["key", "seller", "method", "path", "response_status", "created_at"]
    search_fields = ["key"]
    readonly_fields = [f.name for f in IdempotencyKey._meta.fields]

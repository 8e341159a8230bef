from django.contrib import admin
from django.db.models import OuterRef

from orders.models import Order
from payments.models import LedgerEntry, Payment
from payments.selectors_staff import count_per_seller, sum_per_seller
from payments.staff.actions import StaffActionsMixin, staff_action
from sellers.models import (
    ApiKey,
    IdempotencyKey,
    PayoutDestination,
    Seller,
    SellerMembership,
)
from sellers.money import format_minor


class MembershipInline(admin.TabularInline):
    model = SellerMembership
    extra = 0
    autocomplete_fields = ["user"]


class PayoutDestinationInline(admin.TabularInline):
    model = PayoutDestination
    extra = 0




@admin.register(Seller)
class SellerAdmin(StaffActionsMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "status", "fee_bps", "volume_display", "orders_count", "paid_orders",
                    "open_reviews", "timezone", "default_currency", "created_at"]
    list_filter = ["status", "default_currency"]
    search_fields = ["name", "slug", "support_email"]
    prepopulated_fields = {"slug": ["name"]}
    date_hierarchy = "created_at"
    inlines = [MembershipInline, PayoutDestinationInline]
    actions = [staff_action("approve_seller", "Approve selected sellers"),
               staff_action("suspend_seller", "Suspend selected sellers")]

    def get_queryset(self, request):
        # Volume and counts in the same query as the sellers (correlated subqueries).
        seller = OuterRef("pk")
        return super().get_queryset(request).annotate(
            volume=sum_per_seller(LedgerEntry.objects.filter(seller=seller, kind=LedgerEntry.Kind.PAYMENT,
                                                   currency=OuterRef("default_currency")), "gross"),
            orders_total=count_per_seller(Order.objects.filter(seller=seller)),
            orders_paid=count_per_seller(Order.objects.filter(seller=seller, status__in=Order.PAID_STATUSES)),
            reviews_open=count_per_seller(Payment.objects.filter(seller=seller).needs_review()),
        )

    @admin.display(description="volume", ordering="volume")
    def volume_display(self, obj):
        return format_minor(obj.volume, obj.default_currency)

    @admin.display(description="orders", ordering="orders_total")
    def orders_count(self, obj):
        return obj.orders_total

    @admin.display(description="paid", ordering="orders_paid")
    def paid_orders(self, obj):
        return obj.orders_paid

    @admin.display(description="reviews", ordering="reviews_open")
    def open_reviews(self, obj):
        return obj.reviews_open


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


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ["key", "seller", "method", "path", "response_status", "created_at"]
    search_fields = ["key"]
    readonly_fields = [f.name for f in IdempotencyKey._meta.fields]

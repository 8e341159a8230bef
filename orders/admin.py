"""Staff admin for products and orders. Orders are read-only here: their status follows
their payments, which staff act on through the payment actions."""
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from orders.models import Order, OrderEvent, OrderItem, Product
from payments.models import Payment
from payments.staff.actions import can_run, run_staff_action
from payments.staff.display import money_column


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class OrderItemInline(ReadOnlyInline):
    model = OrderItem
    fields = ["name", "unit_price", "quantity", "product"]
    readonly_fields = ["unit_price"]
    unit_price = money_column("unit_amount", "order.currency", "unit price")


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ["created_at", "type", "from_status", "to_status", "actor_type", "actor_user", "data"]


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ["link", "method", "status", "exceptions", "review_status", "due", "tx_id", "created_at"]
    readonly_fields = fields
    due = money_column("amount_due", "pay_currency", "due")

    @admin.display(description="payment")
    def link(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("admin:payments_payment_change", args=[obj.pk]),
                           str(obj.pk)[:8])


class OrderExceptionFilter(admin.SimpleListFilter):
    title = "exception"
    parameter_name = "exception"

    def lookups(self, request, model_admin):
        return [("review", "A payment needs review"), *Payment.Exception_.choices]

    def queryset(self, request, queryset):
        if self.value() == "review":
            return queryset.filter(pk__in=Payment.objects.needs_review().values("order_id"))
        if self.value() in Payment.Exception_.values:
            return queryset.filter(pk__in=Payment.objects.with_exception(self.value()).values("order_id"))
        return queryset


class MethodFilter(admin.SimpleListFilter):
    title = "payment method"
    parameter_name = "method"

    def lookups(self, request, model_admin):
        return Payment._meta.get_field("method").choices

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(pk__in=Payment.objects.filter(method=self.value()).values("order_id"))
        return queryset


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "seller", "price", "is_active", "created_at"]
    list_filter = ["is_active", "currency", "seller"]
    search_fields = ["name", "seller__name"]
    list_select_related = ["seller"]
    price = money_column("unit_amount", "currency", "price")


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["reference_or_id", "seller", "status", "total", "customer_email", "created_at"]
    list_filter = ["status", MethodFilter, OrderExceptionFilter, "currency", "seller",
                   ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=id", "reference", "customer_email", "partner_user_id", "payments__tx_id", "payments__pay_to"]
    date_hierarchy = "created_at"
    readonly_fields = ["id", "seller", "status", "total", "currency", "amount", "checkout_token", "paid_at",
                       "fulfilled_at", "created_at", "updated_at"]
    inlines = [OrderItemInline, PaymentInline, OrderEventInline]
    list_select_related = ["seller"]
    show_full_result_count = False
    actions = ["recheck_payments"]
    total = money_column("amount", "currency", "total")

    @admin.display(description="order", ordering="reference")
    def reference_or_id(self, obj):
        return obj.reference or str(obj.pk)[:8]

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not can_run(request.user, "recheck"):
            actions.pop("recheck_payments", None)
        return actions

    @admin.action(description="Re-check their payments now")
    def recheck_payments(self, request, queryset):
        run_staff_action(request, "recheck", Payment.objects.filter(order__in=queryset).order_by("created_at"))


@admin.register(OrderEvent)
class OrderEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "order", "type", "from_status", "to_status", "actor_type", "actor_user"]
    list_filter = ["type", "actor_type"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in OrderEvent._meta.fields]
    list_select_related = ["order", "actor_user"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

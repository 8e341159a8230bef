from django.contrib import admin

from orders.models import Order, OrderEvent, OrderItem, Product


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class OrderItemInline(ReadOnlyInline):
    model = OrderItem
    fields = ["name", "unit_amount", "quantity", "product"]


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ["created_at", "type", "from_status", "to_status", "actor_type", "actor_user", "data"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "seller", "unit_amount", "currency", "is_active", "created_at"]
    list_filter = ["is_active", "currency", "seller"]
    search_fields = ["name", "seller__name"]
    list_select_related = ["seller"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["__str__", "seller", "status", "amount", "currency", "customer_email", "created_at"]
    list_filter = ["status", "currency", "seller"]
    search_fields = ["=id", "reference", "customer_email", "partner_user_id"]
    date_hierarchy = "created_at"
    readonly_fields = ["id", "seller", "status", "currency", "amount", "checkout_token", "paid_at",
                       "fulfilled_at", "created_at", "updated_at"]
    inlines = [OrderItemInline, OrderEventInline]
    list_select_related = ["seller"]
    show_full_result_count = False


@admin.register(OrderEvent)
class OrderEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "order", "type", "from_status", "to_status", "actor_type"]
    list_filter = ["type", "actor_type"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in OrderEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

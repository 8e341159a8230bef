"""A seller's catalog and orders. Order status changes only through orders.services."""
import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from sellers.models import Seller, validate_currency
from sellers.money import format_minor


def new_checkout_token() -> str:
    # 192 bits: the checkout URL is the shopper's only credential for the order.
    return secrets.token_urlsafe(24)


class ActorType(models.TextChoices):
    SYSTEM = "system", "System"
    SELLER = "seller", "Seller user"
    STAFF = "staff", "Staff user"
    PROVIDER = "provider", "Provider"
    SHOPPER = "shopper", "Shopper"
    API = "api", "API key"


class Product(models.Model):
    seller = models.ForeignKey(Seller, on_delete=models.CASCADE, related_name="products")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, max_length=2000)
    unit_amount = models.PositiveBigIntegerField(help_text="Price in minor units (paise, cents, µXNO).")
    currency = models.CharField(max_length=3, validators=[validate_currency])
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["seller", "is_active"], name="product_seller_active_idx")]
        constraints = [models.CheckConstraint(condition=models.Q(unit_amount__gt=0), name="product_amount_positive")]

    def __str__(self) -> str:
        return self.name


class OrderQuerySet(models.QuerySet):
    def for_seller(self, seller):
        return self.filter(seller=seller)

    def paid(self):
        return self.filter(status__in=Order.PAID_STATUSES)

    def in_range(self, start, end):
        return self.filter(created_at__gte=start, created_at__lt=end)


class Order(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PAID = "paid", "Paid"
        FULFILLED = "fulfilled", "Fulfilled"
        EXPIRED = "expired", "Expired"
        CANCELLED = "cancelled", "Cancelled"
        PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
        REFUNDED = "refunded", "Refunded"

    PAID_STATUSES = ("paid", "fulfilled", "partially_refunded", "refunded")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    seller = models.ForeignKey(Seller, on_delete=models.PROTECT, related_name="orders")
    reference = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    currency = models.CharField(max_length=3, validators=[validate_currency])
    amount = models.PositiveBigIntegerField(help_text="Total in minor units.")
    customer_email = models.EmailField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    checkout_token = models.CharField(max_length=64, unique=True, default=new_checkout_token, editable=False)
    partner_user_id = models.CharField(max_length=254, blank=True, db_index=True)
    delivery_info = models.TextField(blank=True, max_length=4000)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["seller", "created_at"], name="order_seller_created_idx"),
            models.Index(fields=["seller", "status", "created_at"], name="order_seller_status_idx"),
            models.Index(fields=["seller", "reference"], name="order_seller_reference_idx"),
        ]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="order_amount_positive")]

    def __str__(self) -> str:
        return f"{self.reference or str(self.id)[:8]} · {format_minor(self.amount, self.currency)}"

    @property
    def is_paid(self) -> bool:
        return self.status in self.PAID_STATUSES


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, null=True, blank=True, on_delete=models.SET_NULL)
    name = models.CharField(max_length=120)
    unit_amount = models.PositiveBigIntegerField()
    quantity = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(quantity__gt=0), name="orderitem_quantity_positive")]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.name}"

    @property
    def amount(self) -> int:
        return self.unit_amount * self.quantity


class TimelineEvent(models.Model):
    """What every timeline row records: the change, who made it, and its data.
    Written only by services, in the same transaction as the change."""

    type = models.CharField(max_length=40)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    actor_type = models.CharField(max_length=10, choices=ActorType.choices, default=ActorType.SYSTEM)
    actor_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        abstract = True
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.type} {self.from_status}→{self.to_status}"


class OrderEvent(TimelineEvent):
    """The order's timeline."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    SUBJECT = "order"  # whose timeline (orders.services.timeline_events_insert)

    class Meta(TimelineEvent.Meta):
        pass


class BuyNonce(models.Model):
    """A storefront Buy form's one-time nonce, claimed in the database while the cache (Redis) is
    unreachable, so a double submit still makes one order. Rows older than an hour are purged."""

    key = models.CharField(max_length=64, primary_key=True)  # SHA-256 of the nonce, product and quantity
    checkout_token = models.CharField(max_length=64, blank=True)  # "" while the first submit is in flight
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return self.key[:12]

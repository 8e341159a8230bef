"""Sellers and everything a seller configures: members, payout destinations,
API keys, outbound webhook endpoints and their delivery log."""
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.timezone import now

METHOD_CHOICES = [("nano", "Nano (XNO)"), ("razorpay", "Razorpay"), ("coinpay", "CoinPay")]
ALL_METHODS = [code for code, _ in METHOD_CHOICES]


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not a known IANA timezone, e.g. Asia/Kolkata.")


def validate_currency(value: str) -> None:
    from sellers.money import is_supported_currency

    if not is_supported_currency(value):
        raise ValidationError(f"“{value}” is not a supported currency code.")


def default_methods() -> list[str]:
    return list(ALL_METHODS)


class SellerQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status=Seller.Status.ACTIVE)


class Seller(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending approval"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=120)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    # Null means "use the platform default" (PLATFORM_FEE_BPS), so changing the default moves everyone.
    fee_bps = models.PositiveIntegerField(null=True, blank=True, help_text="Fee override in basis points (250 = 2.5%).")
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    default_currency = models.CharField(max_length=3, default="INR", validators=[validate_currency])
    enabled_methods = models.JSONField(default=default_methods, blank=True)
    support_email = models.EmailField(blank=True)
    # Every member must log in with a second factor (staff always must).
    require_two_factor = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=now, editable=False)

    objects = SellerQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(fee_bps__lte=10000) | models.Q(fee_bps__isnull=True),
                                   name="seller_fee_bps_at_most_100_percent"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def effective_fee_bps(self) -> int:
        return settings.PLATFORM_FEE_BPS if self.fee_bps is None else self.fee_bps

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def is_accepting_payments(self) -> bool:
        return self.status == self.Status.ACTIVE


class SellerMembership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        VIEWER = "viewer", "Viewer"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    seller = models.ForeignKey(Seller, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.OWNER)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "seller"], name="membership_unique_user_seller")]

    def __str__(self) -> str:
        return f"{self.user} → {self.seller} ({self.role})"


class PayoutDestination(models.Model):
    """Where a method's money goes for a seller: a Nano address (paid directly),
    a Razorpay Route linked account, or a CoinPay wallet/payout reference."""

    seller = models.ForeignKey(Seller, on_delete=models.CASCADE, related_name="payout_destinations")
    method = models.CharField(max_length=16, choices=METHOD_CHOICES)
    value = models.CharField(max_length=128)
    label = models.CharField(max_length=80, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["seller", "method"], name="payout_destination_one_per_method")]

    def __str__(self) -> str:
        return f"{self.seller.slug}:{self.method}"

    def clean(self) -> None:
        from sellers.validators import validate_payout_destination

        self.value = (self.value or "").strip()
        validate_payout_destination(self.method, self.value)


class ApiKey(models.Model):
    """A secret API key. Only its SHA-256 is stored; the key is shown once at creation.

    `prefix` (e.g. "sk_test_Ab12Cd34") is unique and indexed, so lookup is by prefix
    and the hash is compared in constant time.
    """

    class Mode(models.TextChoices):
        TEST = "test", "Test"
        LIVE = "live", "Live"

    seller = models.ForeignKey(Seller, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=80, default="Default")
    mode = models.CharField(max_length=4, choices=Mode.choices, default=Mode.TEST)
    prefix = models.CharField(max_length=24, unique=True)
    key_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdempotencyKey(models.Model):
    """A stored API response for (seller, Idempotency-Key); replayed for 24 h."""

    seller = models.ForeignKey(Seller, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)  # null: still in progress
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["seller", "key"], name="idempotency_unique_seller_key")]

    def __str__(self) -> str:
        return self.key


class WebhookEndpoint(models.Model):
    EVENT_TYPES = [
        "order.paid", "payment.completed", "payment.expired", "payment.failed",
        "payment.paid_late", "refund.succeeded", "refund.failed",
    ]

    seller = models.ForeignKey(Seller, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, help_text="Event types to send; empty means all.")
    # Kept in clear because we must sign with it; shown to the seller once (Standard Webhooks).
    secret = models.CharField(max_length=80)
    description = models.CharField(max_length=120, blank=True)
    is_active = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return self.is_active and (not self.events or event_type in self.events)


class WebhookDelivery(models.Model):
    """One event message to one endpoint (the outbox row), with its retry state.

    Rows are written in the same transaction as the state change that caused them,
    then sent after commit; every attempt is recorded in WebhookAttempt.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed (will retry)"
        DEAD = "dead", "Gave up"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    seller = models.ForeignKey(Seller, on_delete=models.CASCADE, related_name="+")
    message_id = models.CharField(max_length=64, help_text="webhook-id: stable across retries")
    event_type = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=now)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due_idx"),
            models.Index(fields=["seller", "created_at"], name="delivery_seller_created_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "message_id"], name="delivery_unique_endpoint_message"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.message_id} ({self.status})"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField(default=now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-attempted_at"]

    def __str__(self) -> str:
        return f"attempt {self.status_code or self.error[:40]}"


class DailyStat(models.Model):
    """Dashboard rollup: one seller-local day per (currency, method), rebuilt from the raw
    tables by sellers.analytics.daily_stats_refresh (beat). method "" holds order counts,
    which have no method. Derived data only: it can always be deleted and rebuilt."""

    seller = models.ForeignKey(Seller, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    currency = models.CharField(max_length=5)
    method = models.CharField(max_length=16, blank=True)
    orders_created = models.PositiveIntegerField(default=0)
    orders_paid = models.PositiveIntegerField(default=0)
    orders_expired = models.PositiveIntegerField(default=0)
    payments_started = models.PositiveIntegerField(default=0)
    payments_completed = models.PositiveIntegerField(default=0)
    payments_expired = models.PositiveIntegerField(default=0)
    payments_failed = models.PositiveIntegerField(default=0)
    paid_count = models.PositiveIntegerField(default=0)
    gross = models.BigIntegerField(default=0)
    fees = models.BigIntegerField(default=0)
    net = models.BigIntegerField(default=0)
    refunds = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["seller", "day", "currency", "method"], name="dailystat_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.seller_id} {self.day} {self.currency} {self.method}"


class DailyStatState(models.Model):
    """Up to which seller-local day the rollup is complete; later days are read raw."""

    seller = models.OneToOneField(Seller, on_delete=models.CASCADE, related_name="+")
    through_day = models.DateField()
    timezone = models.CharField(max_length=64, help_text="The timezone the rollup days were cut in.")
    refreshed_at = models.DateTimeField(default=now)

    def __str__(self) -> str:
        return f"{self.seller_id} through {self.through_day}"

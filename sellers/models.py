"""Sellers and everything a seller configures: members, payout destinations,
API keys, outbound webhook endpoints and their delivery log."""
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.timezone import now

from sellers.money import is_supported_currency
from sellers.validators import validate_payout_destination

METHOD_CHOICES = [("nano", "Nano (XNO)"), ("razorpay", "Razorpay"), ("coinpay", "CoinPay")]
ALL_METHODS = [code for code, _ in METHOD_CHOICES]
# The English variants in settings.LANGUAGES: one catalogue, different number and date formats.
LOCALE_CHOICES = [("en-in", "English (India): ₹1,24,884.00"), ("en-gb", "English (UK): 25 Nov 2026, 14:05"),
                  ("en-us", "English (US): Nov 25, 2026, 2:05 PM")]


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not a known IANA timezone, e.g. Asia/Kolkata.")


def validate_currency(value: str) -> None:
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
    # How the dashboard formats money and dates; empty follows the currency (see format_language).
    locale = models.CharField(max_length=8, blank=True, default="", choices=LOCALE_CHOICES)
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
    def format_language(self) -> str:
        """The language code the dashboard activates: the seller's choice, else en-in for INR sellers
        (lakh grouping, as Indian readers expect), else plain English."""
        return self.locale or ("en-in" if self.default_currency == "INR" else "en")

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


class DailyStat(models.Model):
    """Dashboard rollup: one seller-local day per (currency, method), rebuilt from the raw
    tables by payments.analytics.daily_stats_refresh (beat). method "" holds order counts,
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

"""Demo data for `seed_demo`: two sellers, their catalog and a realistic 90-day history.

History is written in bulk with backdated timestamps (services can't backdate), but
every row obeys the same rules the services enforce: the ledger split is exact,
statuses follow the tables, and each change has its event.
"""
from __future__ import annotations

import hashlib
import hmac
import random
from base64 import b32decode
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from core.nano_codec import public_key_to_address
from orders.models import Order, OrderEvent, OrderItem, Product
from payments.models import LedgerEntry, Payment, PaymentEvent, Receipt, Refund
from payments.money import fee_split
from payments.staff.groups import staff_groups_sync
from sellers.models import ApiKey, PayoutDestination, Seller, SellerMembership
from sellers.services import API_KEY_PREFIX_LEN, hash_api_key
from sellers.two_factor import TOTP_DEVICE_NAME

DEMO_PREFIX = "DEMO-"
STAFF = ("admin", "kassa-admin-demo")
# The demo staff user's authenticator secret (base32). Public, so it is set only in sandbox mode;
# anywhere else staff enrol their own app at first login.
DEMO_STAFF_TOTP_SECRET = "KASSADEMOSTAFFTOTPSECRETKASSADEM"


@dataclass(frozen=True)
class DemoSeller:
    slug: str
    name: str
    username: str
    password: str
    currency: str
    tz: str
    products: tuple[tuple[str, int], ...]
    razorpay_account: str


SELLERS = (
    DemoSeller("asha-prints", "Asha Prints", "asha", "asha-demo-pass", "INR", "Asia/Kolkata",
               (("Art print A3", 49900), ("Art print A2", 89900), ("Postcard set", 19900), ("Framed poster", 249900)),
               "acc_AshaPrints0001"),
    DemoSeller("nordic-knits", "Nordic Knits", "nordic", "nordic-demo-pass", "USD", "Europe/Oslo",
               (("Wool beanie", 3500), ("Mittens", 2800), ("Fisherman sweater", 14900), ("Knitting kit", 4500)),
               "acc_NordicKnits001"),
)

# (order status, payment status, share) — every status appears.
OUTCOMES = (
    ("paid", "completed", 48), ("fulfilled", "completed", 14), ("expired", "expired", 14),
    ("open", "failed", 5), ("cancelled", "cancelled", 3), ("refunded", "refunded", 4),
    ("partially_refunded", "partially_refunded", 4), ("open", "pending", 3),
    ("expired", "paid_late", 2), ("paid", "duplicate", 1), ("paid", "overpaid", 2),
)
METHODS = ("nano", "razorpay", "coinpay")


def demo_api_key(slug: str, generation: int = 0) -> str:
    """A stable demo key derived from SECRET_KEY, so re-seeding prints the same key
    while only its hash is stored. A revoked one is followed by the next generation."""
    label = f"demo-key:{slug}" + (f":{generation}" if generation else "")
    digest = hmac.new(settings.SECRET_KEY.encode(), label.encode(), hashlib.sha256).hexdigest()
    return f"sk_test_{digest[:40]}"


# How many revoked demo keys in a row we step over before giving up (a person revoking keys in a loop).
MAX_DEMO_KEY_GENERATIONS = 100


def _ensure_demo_key(seller: Seller, slug: str, out) -> str | None:
    """The first demo key of this seller that is not revoked, created if missing.

    Printing a revoked key as if it worked would send a newcomer to a 401; say so and print the next one.
    """
    for generation in range(MAX_DEMO_KEY_GENERATIONS):
        key = demo_api_key(slug, generation)
        api_key, _ = ApiKey.objects.get_or_create(prefix=key[:API_KEY_PREFIX_LEN], defaults={
            "seller": seller, "name": "Demo key", "key_hash": hash_api_key(key)})
        if api_key.revoked_at is None:
            return key
        out(f"revoked: api-key {slug} {key[:API_KEY_PREFIX_LEN]}… was revoked; using a fresh demo key")
    out(f"revoked: api-key {slug}: every demo key is revoked; create one at /dashboard/developers/")
    return None


def nano_address_for(slug: str) -> str:
    return public_key_to_address(hashlib.sha256(f"kassa-demo:{slug}".encode()).digest())


def seed(orders_per_seller: int, out) -> None:
    User = get_user_model()
    staff, created = User.objects.get_or_create(username=STAFF[0], defaults={"email": "admin@kassa.test"})
    if created or not staff.is_superuser:
        staff.is_staff = staff.is_superuser = True
        staff.set_password(STAFF[1])
        staff.save()
    out(f"login: staff {STAFF[0]} {STAFF[1]}")
    if settings.SANDBOX_MODE:
        _seed_staff_totp(staff)
        out(f"totp: staff {STAFF[0]} {DEMO_STAFF_TOTP_SECRET}")

    staff_groups_sync()  # the Support and Finance groups exist on a fresh machine
    for spec in SELLERS:
        seller = _seed_seller(spec, User)
        out(f"login: seller:{spec.slug} {spec.username} {spec.password}")
        key = _ensure_demo_key(seller, spec.slug, out)
        if key:
            out(f"api-key: {spec.slug} {key}")
        _seed_history(seller, spec, orders_per_seller)


def demo_logins() -> list[str]:
    """The lines `seed_demo` printed, read back without writing (the banner after `make run` starts).

    A seller's key is its first demo key that exists and is not revoked; none → it says so.
    """
    lines = [f"login: staff {STAFF[0]} {STAFF[1]}"]
    if settings.SANDBOX_MODE:
        lines.append(f"totp: staff {STAFF[0]} {DEMO_STAFF_TOTP_SECRET}")
    keys = {k.prefix: k for k in ApiKey.objects.filter(seller__slug__in=[spec.slug for spec in SELLERS])}
    for spec in SELLERS:
        lines.append(f"login: seller:{spec.slug} {spec.username} {spec.password}")
        candidates = (demo_api_key(spec.slug, n) for n in range(MAX_DEMO_KEY_GENERATIONS))
        key = next((c for c in candidates if (row := keys.get(c[:API_KEY_PREFIX_LEN])) is None
                    or row.revoked_at is None), None)
        if key and key[:API_KEY_PREFIX_LEN] in keys:
            lines.append(f"api-key: {spec.slug} {key}")
        else:
            lines.append(f"api-key: {spec.slug} none (revoked; run `make seed` for a fresh one)")
    return lines


def _seed_staff_totp(staff) -> None:
    key = b32decode(DEMO_STAFF_TOTP_SECRET).hex()
    TOTPDevice.objects.filter(user=staff).exclude(key=key).delete()
    TOTPDevice.objects.update_or_create(user=staff, key=key, defaults={"name": TOTP_DEVICE_NAME, "confirmed": True})


def _seed_seller(spec: DemoSeller, User) -> Seller:
    seller, _ = Seller.objects.get_or_create(slug=spec.slug, defaults={
        "name": spec.name, "default_currency": spec.currency, "timezone": spec.tz,
        "support_email": f"{spec.username}@example.com"})
    user, created = User.objects.get_or_create(username=spec.username,
                                               defaults={"email": f"{spec.username}@example.com"})
    if created:
        user.set_password(spec.password)
        user.save()
    SellerMembership.objects.get_or_create(user=user, seller=seller, defaults={"role": "owner"})
    for method, value in (("nano", nano_address_for(spec.slug)), ("razorpay", spec.razorpay_account),
                          ("coinpay", f"cp_wallet_{spec.slug}")):
        PayoutDestination.objects.get_or_create(seller=seller, method=method, defaults={"value": value})
    for name, amount in spec.products:
        Product.objects.get_or_create(seller=seller, name=name, defaults={"unit_amount": amount,
                                                                          "currency": spec.currency})
    return seller


def _seed_history(seller: Seller, spec: DemoSeller, wanted: int) -> None:
    existing = Order.objects.filter(seller=seller, reference__startswith=DEMO_PREFIX).count()
    if existing >= wanted:
        return
    rng = random.Random(f"{spec.slug}:{existing}")
    products = list(Product.objects.filter(seller=seller))
    outcomes = _outcome_sequence(spec.slug)
    now = timezone.now()
    with transaction.atomic():
        for index in range(existing, wanted):
            outcome = outcomes[index % len(outcomes)]
            created_at = now - timedelta(days=rng.uniform(0.05, 90)) if outcome[1] != "pending" \
                else now - timedelta(minutes=rng.uniform(1, 20))
            _seed_order(seller, spec, rng, products, index, outcome, created_at)


def _outcome_sequence(slug: str) -> list[tuple]:
    """One of every outcome first (so even a small seed shows every status), then the
    weighted mix in a stable shuffled order."""
    weighted = [o for o in OUTCOMES for _ in range(o[2] - 1)]
    random.Random(slug).shuffle(weighted)
    return [*OUTCOMES, *weighted]


def _seed_order(seller, spec, rng, products, index, outcome, created_at) -> None:
    order_status, kind, _ = outcome
    product = rng.choice(products)
    quantity = rng.choice((1, 1, 1, 2, 3))
    order = Order.objects.create(
        seller=seller, reference=f"{DEMO_PREFIX}{index + 1:05d}", status=order_status, currency=spec.currency,
        amount=product.unit_amount * quantity, customer_email=f"shopper{rng.randint(1, 60)}@example.com",
        created_at=created_at,
        paid_at=created_at + timedelta(minutes=3) if order_status in Order.PAID_STATUSES else None,
    )
    OrderItem.objects.create(order=order, product=product, name=product.name, unit_amount=product.unit_amount,
                             quantity=quantity)
    method = rng.choice(METHODS)
    payment = _seed_payment(order, seller, method, kind, created_at, rng)
    _seed_events(order, payment, kind, created_at)


def _pay_amounts(order: Order, method: str) -> tuple[str, int, Decimal | None]:
    if method != "nano":
        return order.currency, order.amount, None
    micro_per_major = Decimal(settings.NANO_FIXED_RATES.get(order.currency, "1000000"))
    exponent = 2
    rate = micro_per_major / (10**exponent)
    return "XNO", int((order.amount * rate).to_integral_value()) + 1, rate


def _seed_payment(order, seller, method, kind, created_at, rng) -> Payment:
    pay_currency, amount_due, rate = _pay_amounts(order, method)
    status = {"paid_late": "expired", "duplicate": "completed", "overpaid": "completed"}.get(kind, kind)
    # A live Nano payment holds a unique amount (base + k µXNO) so the monitor can match it.
    reserved = method == "nano" and status == "pending"
    if reserved:
        taken = set(Payment.objects.filter(pay_to=nano_address_for(seller.slug), amount_reserved=True)
                    .values_list("amount_due", flat=True))
        amount_due = next(amount_due + k for k in range(1000) if amount_due + k not in taken)
    completed = status in Payment.PAID_STATUSES
    wire = amount_due * (10**24 if pay_currency == "XNO" else 1)
    received = {"overpaid": wire + wire // 10, "paid_late": wire}.get(kind, wire if completed else 0)
    exceptions = [kind] if kind in ("paid_late", "duplicate", "overpaid") else []
    tx_id = f"{rng.getrandbits(256):064X}" if method == "nano" else f"pay_{rng.getrandbits(56):014x}"
    payment = Payment.objects.create(
        order=order, seller=seller, method=method, status=status, exceptions=exceptions,
        review_status="open" if exceptions else "", currency=order.currency, amount=order.amount,
        pay_currency=pay_currency, amount_due=amount_due, amount_received=str(received), rate=rate,
        rate_source="fixed" if rate else "", pay_to=nano_address_for(seller.slug) if method == "nano" else "",
        provider_ref="" if method == "nano" else f"order_{rng.getrandbits(56):014x}",
        expires_at=created_at + timedelta(minutes=30), created_at=created_at, amount_reserved=reserved,
        reserved_until=(created_at + timedelta(minutes=30, hours=settings.PAYMENT_MONITORING_HOURS)
                        if reserved else None),
        completed_at=created_at + timedelta(minutes=3) if completed else None,
        tx_id=tx_id if received else "",
        refunded_amount={"refunded": order.amount, "partially_refunded": order.amount // 3}.get(kind, 0),
    )
    if received:
        Receipt.objects.create(provider=method, external_tx_id=tx_id, payment=payment, pay_to=payment.pay_to,
                               amount=str(received), state="confirmed", resolution="matched", created_at=created_at)
    if completed:
        split = fee_split(order.amount, seller.effective_fee_bps)
        custody = "seller" if method == "nano" else "platform"
        LedgerEntry.objects.create(seller=seller, payment=payment, kind="payment", custody=custody, method=method,
                                   currency=order.currency, gross=split.gross, fee=split.fee, net=split.net,
                                   fee_bps=seller.effective_fee_bps, created_at=payment.completed_at)
        if payment.refunded_amount:
            refund = Refund.objects.create(payment=payment, seller=seller, amount=payment.refunded_amount,
                                           status="succeeded", created_at=payment.completed_at + timedelta(days=1),
                                           completed_at=payment.completed_at + timedelta(days=1))
            LedgerEntry.objects.create(seller=seller, payment=payment, refund=refund, kind="refund", custody=custody,
                                       method=method, currency=order.currency, gross=-refund.amount, fee=0,
                                       net=-refund.amount, fee_bps=seller.effective_fee_bps,
                                       created_at=refund.completed_at)
    return payment


def _seed_events(order, payment, kind, created_at) -> None:
    events = [("order.created", "", "open", created_at), ("payment.started", "", "pending", created_at)]
    final = {"completed": "completed", "duplicate": "completed", "overpaid": "completed", "refunded": "completed",
             "partially_refunded": "completed"}.get(kind, payment.status)
    if final != "pending":
        events.append((f"payment.{final}", "pending", final, created_at + timedelta(minutes=3)))
    if kind in ("refunded", "partially_refunded"):
        events.append(("refund.succeeded", "completed", kind, created_at + timedelta(days=1)))
    PaymentEvent.objects.bulk_create(
        PaymentEvent(payment=payment, type=t, from_status=f, to_status=s, actor_type="system", created_at=at,
                     data={"seeded": True})
        for t, f, s, at in events[1:]
    )
    order_events = [("order.created", "", "open", created_at)]
    if order.status != "open":
        order_events.append((f"order.{order.status}", "open", order.status, created_at + timedelta(minutes=3)))
    OrderEvent.objects.bulk_create(
        OrderEvent(order=order, type=t, from_status=f, to_status=s, actor_type="system", created_at=at,
                   data={"seeded": True})
        for t, f, s, at in order_events
    )

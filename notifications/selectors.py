"""Reads for email: a seller's settings and recipients, and the outbox rows due for sending."""
from django.contrib.auth import get_user_model

from notifications.models import SellerEmailSettings
from sellers.models import Seller, SellerMembership

DEFAULT_RECIPIENT_ROLES = (SellerMembership.Role.OWNER, SellerMembership.Role.ADMIN)


def seller_email_settings(seller: Seller) -> SellerEmailSettings:
    """The saved settings, or the defaults (everything on, each order, owners and admins)."""
    found = SellerEmailSettings.objects.filter(seller=seller).first()
    return found or SellerEmailSettings(seller=seller)


def seller_members(seller: Seller):
    return get_user_model().objects.filter(memberships__seller=seller).order_by("username")


def seller_recipients(seller: Seller, kind: str) -> list[str]:
    """Addresses for a seller notice of `kind`; empty when the seller turned it off."""
    config = seller_email_settings(seller)
    if not config.is_enabled(kind):
        return []
    members = seller_members(seller).exclude(email="")
    chosen = members.filter(pk__in=config.recipients.values("pk")) if config.pk else members.none()
    if not chosen.exists():
        chosen = members.filter(memberships__role__in=DEFAULT_RECIPIENT_ROLES)
    emails = sorted(set(chosen.values_list("email", flat=True)))
    return emails or ([seller.support_email] if seller.support_email else [])


def customer_email_required(seller: Seller) -> bool:
    return SellerEmailSettings.objects.filter(seller=seller, require_customer_email=True).exists()


def digest_sellers():
    """Sellers who asked for one daily digest of paid orders instead of an email each."""
    return Seller.objects.filter(email_settings__order_paid_mode=SellerEmailSettings.OrderPaid.DIGEST)

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


def seller_recipients(seller: Seller, kind: str, config: SellerEmailSettings | None = None) -> list[str]:
    """Addresses for a seller notice of `kind`; empty when the seller turned it off. Two or three
    short queries: this runs inside the transaction of every paid order."""
    config = config or seller_email_settings(seller)
    if not config.is_enabled(kind):
        return []
    members = SellerMembership.objects.filter(seller=seller).exclude(user__email="")
    chosen = (list(members.filter(user__in=config.recipients.all()).values_list("user__email", flat=True))
              if config.pk else [])
    if not chosen:
        chosen = list(members.filter(role__in=DEFAULT_RECIPIENT_ROLES).values_list("user__email", flat=True))
    return sorted(set(chosen)) or ([seller.support_email] if seller.support_email else [])


def customer_email_required(seller: Seller) -> bool:
    return SellerEmailSettings.objects.filter(seller=seller, require_customer_email=True).exists()


def digest_sellers():
    """Sellers who asked for one daily digest of paid orders instead of an email each."""
    return Seller.objects.filter(email_settings__order_paid_mode=SellerEmailSettings.OrderPaid.DIGEST)

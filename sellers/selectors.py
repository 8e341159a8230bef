"""Reads for sellers: the seller a user acts for, scoped lookups."""
from __future__ import annotations

from sellers.models import ApiKey, Seller


def seller_for_user(user, preferred_slug: str | None = None) -> Seller | None:
    """The seller this user works for (their first membership, or the one chosen in session)."""
    memberships = Seller.objects.filter(memberships__user=user).order_by("memberships__created_at")
    if preferred_slug:
        chosen = memberships.filter(slug=preferred_slug).first()
        if chosen:
            return chosen
    return memberships.first()


def api_key_lookup(prefix: str) -> ApiKey | None:
    """The key with this prefix and its seller (every API request starts here)."""
    return ApiKey.objects.select_related("seller").filter(prefix=prefix).first()


def payout_destination_value(seller: Seller, method: str) -> str:
    """The seller's configured destination for a method ("" if none); uses a prefetch when present."""
    for destination in seller.payout_destinations.all():
        if destination.method == method:
            return destination.value
    return ""

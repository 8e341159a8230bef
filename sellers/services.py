"""Writes for sellers: API keys, payout destinations, settings, status."""
from __future__ import annotations

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from sellers.models import ApiKey, PayoutDestination, Seller

# --- API keys -------------------------------------------------------------------------

def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


API_KEY_PREFIX_LEN = 16  # "sk_test_" + 8 characters: unique, indexed, safe to show


def api_key_create(*, seller: Seller, name: str = "Default", mode: str = ApiKey.Mode.TEST,
                   created_by=None) -> tuple[ApiKey, str]:
    """Returns (row, the full key). The key is never stored and cannot be shown again."""
    key = f"sk_{mode}_{secrets.token_urlsafe(32)}"
    row = ApiKey.objects.create(seller=seller, name=name[:80], mode=mode, prefix=key[:API_KEY_PREFIX_LEN],
                                key_hash=hash_api_key(key), created_by=created_by)
    return row, key


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


# --- seller status (staff) ------------------------------------------------------------

def seller_set_status(*, seller: Seller, status: str) -> bool:
    """Approve (active) or suspend a seller; returns False when it already had that status.

    A conditional UPDATE, so two clicks change it once. A suspended seller's checkout
    refuses new payments (payments.services.check_method_available).
    """
    if status not in Seller.Status.values:
        raise ValueError(f"Unknown seller status “{status}”.")
    changed = Seller.objects.filter(pk=seller.pk).exclude(status=status).update(status=status)
    seller.status = status
    return bool(changed)


# --- dashboard settings ---------------------------------------------------------------------

SETTINGS_FIELDS = ("name", "timezone", "locale", "default_currency", "support_email", "enabled_methods",
                   "require_two_factor")


def seller_update_settings(*, seller: Seller, **changes) -> Seller:
    """Update a seller's own settings (not fee or status, which staff own). Validated by
    the model's field validators. (A timezone change needs nothing else here: the
    dashboard rollup records the zone it was cut in and rebuilds itself.)"""
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValueError(f"Not a seller setting: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        locked = Seller.objects.select_for_update().get(pk=seller.pk)
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.full_clean(exclude=["slug"])
        locked.save(update_fields=list(changes))
    return locked


def payout_destination_set(*, seller: Seller, method: str, value: str, label: str = ""):
    """Create, replace or (with an empty value) remove the seller's destination for a method.
    Raises ValidationError (from PayoutDestination.clean) on a bad address or account id."""
    value = (value or "").strip()
    with transaction.atomic():
        if not value:
            PayoutDestination.objects.filter(seller=seller, method=method).delete()
            return None
        destination = PayoutDestination.objects.filter(seller=seller, method=method).first() or \
            PayoutDestination(seller=seller, method=method)
        destination.value, destination.label = value, label[:80]
        destination.full_clean(exclude=["seller"])
        destination.save()
    return destination

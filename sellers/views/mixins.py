"""Access control for the dashboard: a logged-in member of a seller, and querysets scoped to it.

Anonymous users are redirected to the login page; a logged-in user with no seller
gets 404 (there is nothing of theirs to show). Every object lookup goes through
`seller_object`, so another seller's id is a 404, never a 403 that confirms it exists.
"""
from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import translation

from orders.actors import Actor
from sellers.models import SellerMembership

WRITE_ROLES = (SellerMembership.Role.OWNER, SellerMembership.Role.ADMIN)


def _membership(request) -> SellerMembership | None:
    memberships = list(SellerMembership.objects.select_related("seller").filter(user=request.user)
                       .order_by("created_at"))
    preferred = request.session.get("seller_slug")
    chosen = next((m for m in memberships if m.seller.slug == preferred), None) if preferred else None
    return chosen or (memberships[0] if memberships else None)


def seller_required(view=None, *, write: bool = False):
    """Sets request.seller (a real Seller) and request.seller_role; `write=True` also
    refuses viewers (403) and non-POST methods (405 via require_POST is left to the view)."""
    def decorate(func):
        @wraps(func)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = _membership(request)
            if membership is None:
                raise Http404("This account is not a member of any seller.")
            request.seller = membership.seller
            request.seller_role = membership.role
            if write and membership.role not in WRITE_ROLES:
                raise PermissionDenied("Viewers cannot change anything.")
            # Money and dates in the seller's locale; views render before returning, so it covers the page.
            request.LANGUAGE_CODE = membership.seller.format_language
            with translation.override(request.LANGUAGE_CODE):
                return func(request, *args, **kwargs)
        return wrapper
    return decorate(view) if view else decorate


def seller_object(request, queryset, **lookup):
    """get_object_or_404 scoped to the request's seller."""
    return get_object_or_404(queryset.filter(seller=request.seller), **lookup)


def actor(request) -> Actor:
    return Actor.seller_user(request.user)

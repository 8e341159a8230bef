"""Attach the logged-in user's seller as request.seller (None for staff/anonymous)."""
from django.utils.functional import SimpleLazyObject

from sellers.selectors import seller_for_user


def _seller_for(request):
    user = getattr(request, "user", None)
    if not user or not user.is_authenticated:
        return None

    return seller_for_user(user, preferred_slug=request.session.get("seller_slug"))


class CurrentSellerMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.seller = SimpleLazyObject(lambda: _seller_for(request))
        return self.get_response(request)

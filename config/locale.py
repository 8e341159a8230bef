"""Which locale a page formats money and dates in (Babel, through the active Django language).

Shop pages (/s/, /checkout/, /me/) follow the shopper's Accept-Language, matched against LANGUAGES;
the dashboard follows the seller's setting (sellers.views.mixins.seller_required); everything else
uses LANGUAGE_CODE. Each request activates its own language, so one never leaks into the next on a thread.
"""
from django.conf import settings
from django.utils import translation
from django.utils.cache import patch_vary_headers

SHOPPER_PREFIXES = ("/s/", "/checkout/", "/me/")


class ShopperLocaleMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        shopper = request.path.startswith(SHOPPER_PREFIXES)
        # check_path=False: no /en/ URL prefixes. An unsupported language falls back to LANGUAGE_CODE.
        language = translation.get_language_from_request(request) if shopper else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        if shopper:
            patch_vary_headers(response, ("Accept-Language",))
            response.headers.setdefault("Content-Language", language)
        return response

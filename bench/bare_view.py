"""The benches' baselines, mounted only by bench/urls.py (bench/settings.py).

- `BareApi` returns a constant: the same middleware, DRF dispatch and JSON renderer as
  the API, but no auth, throttle or database. The target ratio is against this.
- `FloorApi` is the cheapest request a real endpoint can be: the API's own key
  authentication (one read) and per-key throttle (one Redis round trip), the
  parsed body, and one transaction holding one statement. What an endpoint costs beyond
  this is its work; the floor shows how much room a target leaves for it.
"""
from django.db import connection, transaction
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


class BareApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    def post(self, request):
        return Response({"ok": True}, status=201)


class FloorApi(APIView):
    """Default authentication, permission and throttle classes (settings.REST_FRAMEWORK)."""

    def post(self, request):
        request.data  # noqa: B018 - parse the body as a real endpoint must
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return Response({"ok": True}, status=201)


@csrf_exempt  # like the webhook view it is compared with
def bench_ok(request):
    """bench/webhooks.py's baseline: a bare 200."""
    return HttpResponse(b'{"ok":true}', content_type="application/json")

"""bench/api.py's baseline: a DRF view that returns a constant, mounted at
/api/v1/bench/bare/ only when BENCH_BARE_VIEW=1 (config/urls_api.py). It goes through
the same middleware, DRF dispatch and JSON renderer, but no auth, throttle or database."""
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


class BareApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    def post(self, request):
        return Response({"ok": True}, status=201)

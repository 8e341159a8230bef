from django.conf import settings


def kassa(request):
    return {"SANDBOX_MODE": settings.SANDBOX_MODE}

"""The confirmation page shown before a staff action that moves money (payments.staff.consequences).

Like Django's delete confirmation: it names each object, the amount and what will happen, and
posts the same request again with confirmed=yes. Harmless actions never come here.
"""
from __future__ import annotations

from django.contrib import admin
from django.template.response import TemplateResponse

from payments.staff.consequences import consequence

CONFIRMED = "confirmed"  # the POST field that says "asked and answered yes"


def is_confirmed(request) -> bool:
    return request.POST.get(CONFIRMED) == "yes"


def confirmation_page(request, *, code: str, label: str, objects: list, action_url: str,
                      hidden: list[tuple[str, str]], cancel_url: str) -> TemplateResponse:
    return TemplateResponse(request, "admin/kassa/action_confirm.html", {
        **admin.site.each_context(request),
        "title": f"{label}: are you sure?",
        "label": label,
        "items": [(obj, consequence(code, obj)) for obj in objects],
        "action_url": action_url,
        "hidden": hidden,
        "cancel_url": cancel_url,
    })

"""Developers: API keys (shown once), webhook endpoints (secret shown once, rotate,
test event, re-enable, delete) and the delivery log with resend."""
from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from sellers import services
from sellers.forms import ApiKeyForm, WebhookEndpointForm
from sellers.models import ApiKey
from sellers.views.mixins import seller_object, seller_required
from webhooks import services as webhook_services
from webhooks.delivery import delivery_resend
from webhooks.models import WebhookDelivery, WebhookEndpoint

REVEAL_KEY = "dashboard_reveal"
DELIVERY_LOG_SIZE = 25


def _reveal(request, label: str, value: str) -> None:
    """Show a secret on the next page view only (kept in the session until then)."""
    request.session[REVEAL_KEY] = {"label": label, "value": value}


def _page(request, *, key_form=None, endpoint_form=None, status=200):
    seller = request.seller
    endpoints = list(WebhookEndpoint.objects.filter(seller=seller))
    return render(request, "dashboard/developers.html", {
        "reveal": request.session.pop(REVEAL_KEY, None),
        "api_keys": ApiKey.objects.filter(seller=seller).select_related("created_by"),
        "endpoints": endpoints, "disabled_endpoints": [e for e in endpoints if e.disabled_at],
        "deliveries": WebhookDelivery.objects.filter(seller=seller).select_related("endpoint")
        .order_by("-created_at")[:DELIVERY_LOG_SIZE],
        "key_form": key_form or ApiKeyForm(), "endpoint_form": endpoint_form or WebhookEndpointForm(),
    }, status=status)


@seller_required
def developers(request):
    return _page(request)


@require_POST
@seller_required(write=True)
def api_key_new(request):
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _page(request, key_form=form, status=400)
    row, key = services.api_key_create(seller=request.seller, name=form.cleaned_data["name"],
                                       mode=form.cleaned_data["mode"], created_by=request.user)
    _reveal(request, f"API key “{row.name}”", key)
    return redirect("dashboard:developers")


@require_POST
@seller_required(write=True)
def api_key_revoke(request, pk):
    key = seller_object(request, ApiKey.objects, pk=pk)
    services.api_key_revoke(api_key=key)
    messages.success(request, f"Key {key.prefix}… revoked. Requests using it now get 401.")
    return redirect("dashboard:developers")


@require_POST
@seller_required(write=True)
def endpoint_new(request):
    form = WebhookEndpointForm(request.POST)
    if not form.is_valid():
        return _page(request, endpoint_form=form, status=400)
    try:
        endpoint = webhook_services.webhook_endpoint_create(seller=request.seller, url=form.cleaned_data["url"],
                                                            events=form.cleaned_data["events"],
                                                            description=form.cleaned_data.get("description") or "")
    except webhook_services.EndpointRefused as exc:
        form.add_error("url", exc.user_message)
        return _page(request, endpoint_form=form, status=400)
    _reveal(request, f"Signing secret for {endpoint.url}", endpoint.secret)
    return redirect("dashboard:developers")


@require_POST
@seller_required(write=True)
def endpoint_rotate(request, pk):
    endpoint = seller_object(request, WebhookEndpoint.objects, pk=pk)
    endpoint = webhook_services.webhook_endpoint_rotate_secret(endpoint=endpoint)
    _reveal(request, f"New signing secret for {endpoint.url}", endpoint.secret)
    return redirect("dashboard:developers")


@require_POST
@seller_required(write=True)
def endpoint_test(request, pk):
    endpoint = seller_object(request, WebhookEndpoint.objects.select_related("seller"), pk=pk)
    webhook_services.webhook_endpoint_send_test(endpoint=endpoint)
    messages.success(request, f"Test payment.completed event queued for {endpoint.url}. See the delivery log.")
    return redirect("dashboard:developers")


@require_POST
@seller_required(write=True)
def endpoint_enable(request, pk):
    endpoint = webhook_services.webhook_endpoint_enable(endpoint=seller_object(request, WebhookEndpoint.objects, pk=pk))
    messages.success(request, f"{endpoint.url} is enabled again.")
    return redirect("dashboard:developers")


@require_POST
@seller_required(write=True)
def endpoint_delete(request, pk):
    endpoint = seller_object(request, WebhookEndpoint.objects, pk=pk)
    url = endpoint.url
    webhook_services.webhook_endpoint_delete(endpoint=endpoint)
    messages.success(request, f"Endpoint {url} deleted.")
    return redirect("dashboard:developers")


@require_POST
@seller_required(write=True)
def delivery_resend_view(request, pk):
    delivery = delivery_resend(delivery=seller_object(request, WebhookDelivery.objects, pk=pk))
    if delivery.status == WebhookDelivery.Status.SUCCEEDED:
        messages.success(request, f"Delivered (HTTP {delivery.last_status_code}).")
    else:
        messages.warning(request, f"Resent, but it failed: {delivery.last_error or 'no response'}.")
    return redirect("dashboard:developers")

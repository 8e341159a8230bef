"""Thin HTTP edges for the gateways: inbound webhooks and the Razorpay checkout callback."""
from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.api import error_body
from orders.models import Order
from payments.models import Payment
from payments.providers.errors import PaymentError, SignatureInvalid, VerificationFailed
from payments.services import payment_verify
from payments.webhooks import inbound_webhook_receive, kept_headers

log = logging.getLogger("kassa.gateway")


def _read_limited(request) -> bytes | None:
    """The raw body, or None when it exceeds the limit. Reads the stream with a cap so a
    chunked body (no Content-Length, which the middleware checks) cannot grow unbounded."""
    limit = settings.MAX_REQUEST_BODY_BYTES
    meta = request.META
    if not meta.get("CONTENT_LENGTH") and "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower() \
            and meta.get("wsgi.input_terminated"):
        # Django reads nothing without Content-Length; gunicorn de-chunks and ends the stream.
        body = meta["wsgi.input"].read(limit + 1)
    else:
        body = request.read(limit + 1)
    return None if len(body) > limit else body


@csrf_exempt
@require_POST
def webhook(request, provider: str):
    body = _read_limited(request)
    if body is None:
        return JsonResponse(error_body("payload_too_large", f"Body is larger than {settings.MAX_REQUEST_BODY_BYTES} "
                                                            "bytes."), status=413)
    status, answer = inbound_webhook_receive(provider, body, kept_headers(request.META),
                                             client_ip=request.META.get("REMOTE_ADDR", ""))
    return JsonResponse(answer, status=status)


def _done(order: Order) -> HttpResponseRedirect:
    return HttpResponseRedirect(f"/checkout/{order.checkout_token}/done/")


@csrf_exempt  # Razorpay posts here cross-site; the HMAC signature is the authentication.
@require_POST
def razorpay_callback(request, token: str):
    """The hosted checkout's callback: verify server-side, then show the result page.

    The posted order id only selects among THIS checkout's Razorpay payments; the
    signature is checked against the order id we stored when the payment started.
    """
    order = get_object_or_404(Order, checkout_token=token)
    payments = Payment.objects.filter(order=order, method="razorpay").exclude(provider_ref="").order_by("-created_at")
    payment = payments.filter(provider_ref=request.POST.get("razorpay_order_id", "")).first() or payments.first()
    if payment is None:
        raise Http404("No Razorpay payment for this checkout.")
    payment_id = request.POST.get("razorpay_payment_id", "").strip()
    signature = request.POST.get("razorpay_signature", "").strip()
    if not (payment_id and signature):
        # Failure or cancel (error[...] fields): never trusted; the webhook or poll records it.
        # The Razorpay order takes another attempt, so the shopper is told and may try again.
        log.info("razorpay callback without payment", extra={"payment": str(payment.pk)})
        if request.POST.get("error[code]"):
            messages.warning(request, "That payment attempt did not go through. You have not been charged; "
                                      "you can try again.")
        return _done(order)
    try:
        payment_verify(payment=payment, reference=f"{payment_id}:{signature}")
    except PaymentError as exc:
        log.warning("razorpay callback not verified",
                    extra={"payment": str(payment.pk), "error": exc.__class__.__name__})
        if isinstance(exc, (SignatureInvalid, VerificationFailed)):  # a claim that does not verify
            return HttpResponse(exc.user_message, status=400, content_type="text/plain; charset=utf-8")
    return _done(order)


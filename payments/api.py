"""REST API v1: payments (start for an order, list, detail, verify) and refunds.

Each view does one operation: parse with its InputSerializer, call one service,
render with an OutputSerializer whose shape comes from payments.representations,
so the API and the outbound webhooks never drift apart.
"""
from __future__ import annotations

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import (
    CreatedRangeFilterSet,
    StrictCharField,
    StrictIntegerField,
    error_responses,
    get_owned_or_404,
    seller_of,
    uuid_or_404,
)
from orders.actors import Actor
from orders.models import Order
from payments.checks import payment_check
from payments.models import Payment, Refund
from payments.providers.registry import starts_locally
from payments.representations import payment_data, refund_data
from payments.selectors import payments_for_seller
from payments.services import payment_refund, payment_start
from sellers.idempotency import OPENAPI_PARAMETER as IDEMPOTENCY_KEY
from sellers.idempotency import idempotent
from sellers.models import ALL_METHODS
from sellers.money import MAX_AMOUNT_MINOR as MAX_MINOR

PAYMENT_ID = OpenApiParameter("payment_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
ORDER_ID = OpenApiParameter("order_id", OpenApiTypes.UUID, OpenApiParameter.PATH)

PAYMENT_EXAMPLE = {
    "id": "5b0e8f3c-2f0a-4a8e-9d7c-1f2e3d4c5b6a", "object": "payment",
    "order": "0c9a7f9e-6a51-4df4-8f3b-3d2f1e0a9b8c", "method": "nano", "status": "pending", "exceptions": [],
    "currency": "INR", "amount": 99800, "pay_currency": "XNO", "amount_due": "11976000000000000000000000000000",
    "amount_received": "0", "pay_to": "nano_3t6k35gi95xu6tergt6p69ck76ogmitsa8mnijtpxm9fkcm736xtoncuohr3",
    "payment_uri": "nano:nano_3t6k35gi95xu6tergt6p69ck76ogmitsa8mnijtpxm9fkcm736xtoncuohr3"
                   "?amount=11976000000000000000000000000000",
    "expires_at": "2026-01-01T12:30:00Z", "completed_at": None, "tx_id": "", "refunded_amount": 0,
    "created_at": "2026-01-01T12:00:00Z",
}
REFUND_EXAMPLE = {
    "id": "9f1c2b3a-4d5e-6f70-8192-a3b4c5d6e7f8", "object": "refund",
    "payment": "5b0e8f3c-2f0a-4a8e-9d7c-1f2e3d4c5b6a", "amount": 49900, "status": "succeeded",
    "reason": "Damaged in transit", "failure_reason": "", "created_at": "2026-01-02T09:00:00Z",
    "completed_at": "2026-01-02T09:00:01Z", "nano_send": None,
}


def api_actor(request) -> Actor:
    return Actor.api(request.auth.prefix)


class PaymentOutputSerializer(serializers.Serializer):
    """Documents payments.representations.payment_data (which renders it)."""

    id = serializers.UUIDField()
    object = serializers.CharField(default="payment")
    order = serializers.UUIDField()
    method = serializers.ChoiceField(choices=ALL_METHODS)
    status = serializers.ChoiceField(choices=Payment.Status.choices)
    exceptions = serializers.ListField(child=serializers.ChoiceField(choices=Payment.Exception_.choices))
    currency = serializers.CharField()
    amount = serializers.IntegerField(help_text="Order currency, minor units.")
    pay_currency = serializers.CharField()
    amount_due = serializers.CharField(help_text="In pay_currency's smallest unit, as digits: raw for XNO.")
    amount_received = serializers.CharField(help_text="Received so far, same unit as amount_due.")
    pay_to = serializers.CharField(help_text="Nano address, or the gateway's order id.")
    payment_uri = serializers.CharField()
    expires_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    tx_id = serializers.CharField()
    refunded_amount = serializers.IntegerField()
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "Payment"

    def to_representation(self, instance):
        return payment_data(instance)


class NanoSendSerializer(serializers.Serializer):
    """A Nano refund: the seller sends this from their own wallet; Kassa completes the refund
    when the node shows the send."""

    # "from" is a Python keyword; the field names in the JSON are from/to.
    send_from = serializers.CharField(help_text="The seller's address that received the payment.")
    to = serializers.CharField(help_text="The shopper's account that sent the payment.")
    amount_raw = serializers.CharField(help_text="Exact amount to send, in raw (a string: beyond 64 bits).")
    amount_xno = serializers.CharField(help_text="The same amount in XNO.")
    uri = serializers.CharField(help_text="nano:<to>?amount=<raw>, for a wallet or QR code.")
    block = serializers.CharField(help_text="The seller's send block hash once the refund succeeded, else empty.")

    class Meta:
        ref_name = "NanoRefundSend"

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("send_from")
        return fields


class RefundOutputSerializer(serializers.Serializer):
    """Documents payments.representations.refund_data (which renders it)."""

    id = serializers.UUIDField()
    object = serializers.CharField(default="refund")
    payment = serializers.UUIDField()
    amount = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Refund.Status.choices)
    reason = serializers.CharField()
    failure_reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    nano_send = NanoSendSerializer(allow_null=True, help_text=(
        "Nano only: Kassa cannot send the seller's XNO, so a Nano refund is `awaiting_seller` until the node "
        "shows this send from the seller's address (or `cancelled` if the seller withdrew it from the dashboard "
        "before sending); null for other methods."))

    class Meta:
        ref_name = "Refund"

    def to_representation(self, instance):
        return refund_data(instance)


# --- list and detail ---------------------------------------------------------------------

class PaymentFilter(CreatedRangeFilterSet):
    status = django_filters.ChoiceFilter(choices=Payment.Status.choices)
    method = django_filters.ChoiceFilter(choices=[(code, code) for code in ALL_METHODS])
    customer_email = django_filters.CharFilter(field_name="order__customer_email", lookup_expr="iexact",
                                               max_length=254)
    partner_user_id = django_filters.CharFilter(field_name="order__partner_user_id", max_length=254)

    class Meta:
        model = Payment
        fields = ["status", "method", "customer_email", "partner_user_id", "created_after", "created_before"]


class PaymentListApi(generics.ListAPIView):
    """GET /api/v1/payments/: newest first, paginated. `customer_email` gives one shopper's history."""

    serializer_class = PaymentOutputSerializer
    filterset_class = PaymentFilter

    def get_queryset(self):
        seller = seller_of(self.request)
        if seller is None:  # schema generation
            return Payment.objects.none()
        return payments_for_seller(seller).order_by("-created_at", "-pk")

    @extend_schema(operation_id="payments_list", responses={200: PaymentOutputSerializer(many=True),
                                                             **error_responses()})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class PaymentDetailApi(APIView):
    @extend_schema(operation_id="payments_retrieve", parameters=[PAYMENT_ID],
                   responses={200: PaymentOutputSerializer, **error_responses()},
                   examples=[OpenApiExample("A pending Nano payment", value=PAYMENT_EXAMPLE, response_only=True)])
    def get(self, request, payment_id):
        payment = get_owned_or_404(Payment.objects.for_seller(seller_of(request)), payment_id)
        return Response(PaymentOutputSerializer(payment).data)


# --- start ---------------------------------------------------------------------------------

class PaymentStartApi(APIView):
    """POST /api/v1/orders/<id>/payments/: start (or reuse) a payment for one method."""

    class InputSerializer(serializers.Serializer):
        method = serializers.ChoiceField(choices=ALL_METHODS)

        class Meta:
            ref_name = "PaymentStartInput"

    @extend_schema(
        operation_id="orders_payments_create", parameters=[ORDER_ID, IDEMPOTENCY_KEY], request=InputSerializer,
        responses={201: PaymentOutputSerializer, **error_responses(409, 413, 502, 503)},
        examples=[OpenApiExample("Pay with Nano", value={"method": "nano"}, request_only=True),
                  OpenApiExample("The payment", value=PAYMENT_EXAMPLE, response_only=True, status_codes=["201"])],
    )
    @idempotent(atomic_when=lambda request, **_url: isinstance(request.data, dict)
                and starts_locally(request.data.get("method")))  # Nano: the key commits with the payment
    def post(self, request, order_id):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        method = serializer.validated_data["method"]
        try:  # one locked read finds the order, scoped to this seller
            payment = payment_start(order_id=uuid_or_404(order_id), seller=seller_of(request),
                                    method=method, actor=api_actor(request))
        except Order.DoesNotExist:
            raise NotFound("Not found.") from None
        return Response(PaymentOutputSerializer(payment).data, status=status.HTTP_201_CREATED)


# --- verify ----------------------------------------------------------------------------

class PaymentVerifyApi(APIView):
    """POST /api/v1/payments/<id>/verify/: check a reported transaction with the provider."""

    class InputSerializer(serializers.Serializer):
        reference = StrictCharField(
            max_length=300, required=False, allow_blank=True, default="",
            help_text="Nano block hash, or razorpay_payment_id|razorpay_signature. Empty: poll the provider.",
        )

        class Meta:
            ref_name = "PaymentVerifyInput"

    @extend_schema(
        operation_id="payments_verify", parameters=[PAYMENT_ID, IDEMPOTENCY_KEY], request=InputSerializer,
        responses={200: PaymentOutputSerializer, **error_responses(409, 413, 502, 503)},
        examples=[OpenApiExample("A Nano block hash", request_only=True, value={
            "reference": "991CF190094C00F0B68E2E5F75F6BEE95A2E0BD93CEAA4A6734DB9F19B728948"})],
    )
    @idempotent
    def post(self, request, payment_id):
        payment = get_owned_or_404(Payment.objects.for_seller(seller_of(request)).select_related("order"), payment_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payment = payment_check(payment=payment, reference=serializer.validated_data["reference"].strip())
        return Response(PaymentOutputSerializer(payment).data)


# --- refunds ---------------------------------------------------------------------------

class RefundCreateApi(APIView):
    """POST /api/v1/payments/<id>/refunds/: refund all (no amount) or part of a completed payment."""

    class InputSerializer(serializers.Serializer):
        amount = StrictIntegerField(min_value=1, max_value=MAX_MINOR, required=False,
                                    help_text="Minor units of the order currency; omit to refund what is left.")
        reason = StrictCharField(max_length=200, required=False, allow_blank=True, default="")

        class Meta:
            ref_name = "RefundCreateInput"

    @extend_schema(
        operation_id="payments_refunds_create", parameters=[PAYMENT_ID, IDEMPOTENCY_KEY], request=InputSerializer,
        responses={201: RefundOutputSerializer, **error_responses(409, 413, 502, 503)},
        examples=[OpenApiExample("Partial refund", value={"amount": 49900, "reason": "Damaged in transit"},
                                 request_only=True),
                  OpenApiExample("The refund", value=REFUND_EXAMPLE, response_only=True, status_codes=["201"])],
    )
    @idempotent
    def post(self, request, payment_id):
        payment = get_owned_or_404(Payment.objects.for_seller(seller_of(request)), payment_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        refund = payment_refund(payment=payment, actor=api_actor(request),
                                amount_minor=serializer.validated_data.get("amount"),
                                reason=serializer.validated_data["reason"])
        return Response(RefundOutputSerializer(refund).data, status=status.HTTP_201_CREATED)

"""REST API v1: orders (create, list, detail with payments and events, update).

Each view does one operation with its own Input/Output serializers and calls one
service. Output shapes build on payments.representations (shared with webhooks).
"""
from __future__ import annotations

import json

import django_filters
from django.conf import settings
from django.db.models import Exists, OuterRef, Prefetch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import (
    CreatedRangeFilterSet,
    LenientEmailField,
    StrictCharField,
    StrictIntegerField,
    error_responses,
    get_owned_or_404,
    seller_of,
)
from orders.models import Order, OrderEvent, OrderItem
from orders.services import ItemSpec, order_create, order_mark_fulfilled, order_update_delivery
from payments.api import MAX_MINOR, PAYMENT_EXAMPLE, PaymentOutputSerializer, api_actor
from payments.models import Payment, PaymentEvent
from payments.representations import _iso, order_data, payment_data
from sellers.idempotency import OPENAPI_PARAMETER as IDEMPOTENCY_KEY
from sellers.idempotency import idempotent
from sellers.models import ALL_METHODS
from sellers.money import is_supported_currency

ORDER_ID = OpenApiParameter("order_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
MAX_ITEMS = 100
MAX_METADATA_KEYS = 50
MAX_METADATA_BYTES = 8 * 1024

ORDER_EXAMPLE = {
    "id": "0c9a7f9e-6a51-4df4-8f3b-3d2f1e0a9b8c", "object": "order", "reference": "A-1", "status": "open",
    "currency": "INR", "amount": 99800, "customer_email": "x@y.z", "metadata": {}, "paid_at": None,
    "created_at": "2026-01-01T12:00:00Z", "delivery_info": "", "fulfilled_at": None,
    "items": [{"name": "Art print", "unit_amount": 49900, "quantity": 2, "amount": 99800}],
    "checkout_url": "https://kassa.example/checkout/q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6/",
}
CREATE_EXAMPLE = {"reference": "A-1", "currency": "INR", "customer_email": "x@y.z", "metadata": {},
                  "items": [{"name": "Art print", "unit_amount": 49900, "quantity": 2}]}


# --- output --------------------------------------------------------------------------

def checkout_url(order: Order) -> str:
    return f"{settings.SITE_URL}/checkout/{order.checkout_token}/"


def _event_data(event, payment_id=None) -> dict:
    return {"type": event.type, "from_status": event.from_status, "to_status": event.to_status,
            "actor": event.actor_type, "payment": str(payment_id) if payment_id else None,
            "data": event.data, "created_at": _iso(event.created_at)}


def order_api_data(order: Order, items=None) -> dict:
    """order_data plus items and the checkout URL. Items must be prefetched, or given
    (anything with name, unit_amount and quantity: a just-created order's ItemSpecs)."""
    return {
        **order_data(order),
        "delivery_info": order.delivery_info,
        "fulfilled_at": _iso(order.fulfilled_at),
        "items": [{"name": item.name, "unit_amount": item.unit_amount, "quantity": item.quantity,
                   "amount": item.unit_amount * item.quantity}
                  for item in (order.items.all() if items is None else items)],
        "checkout_url": checkout_url(order),
    }


def order_detail_data(order: Order) -> dict:
    """With payments and the merged, chronological order + payment timeline (prefetched)."""
    payments = list(order.payments.all())
    events = [(e.created_at, e.pk, 0, _event_data(e)) for e in order.events.all()]
    events += [(e.created_at, e.pk, 1, _event_data(e, p.pk)) for p in payments for e in p.events.all()]
    return {
        **order_api_data(order),
        "payments": [payment_data(p) for p in payments],
        "events": [data for *_, data in sorted(events, key=lambda row: row[:3])],
    }


def order_detail_queryset(seller):
    return (Order.objects.for_seller(seller)
            .prefetch_related(Prefetch("items", queryset=OrderItem.objects.order_by("pk")),
                              Prefetch("events", queryset=OrderEvent.objects.order_by("created_at", "pk")),
                              Prefetch("payments", queryset=Payment.objects.order_by("created_at", "pk")
                                       .prefetch_related(Prefetch("events", queryset=PaymentEvent.objects
                                                                  .order_by("created_at", "pk"))))))


class ItemOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    unit_amount = serializers.IntegerField()
    quantity = serializers.IntegerField()
    amount = serializers.IntegerField()

    class Meta:
        ref_name = "OrderItem"


class EventOutputSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="e.g. order.created, payment.started, payment.completed")
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    actor = serializers.CharField(help_text="system, seller, staff, provider, shopper or api")
    payment = serializers.UUIDField(allow_null=True, help_text="Set for payment events.")
    data = serializers.DictField()
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "OrderEvent"


class OrderOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    object = serializers.CharField(default="order")
    reference = serializers.CharField()
    status = serializers.ChoiceField(choices=Order.Status.choices)
    currency = serializers.CharField()
    amount = serializers.IntegerField(help_text="Total in minor units.")
    customer_email = serializers.CharField()
    metadata = serializers.DictField()
    paid_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    delivery_info = serializers.CharField()
    fulfilled_at = serializers.DateTimeField(allow_null=True)
    items = ItemOutputSerializer(many=True)
    checkout_url = serializers.URLField()

    class Meta:
        ref_name = "Order"

    def to_representation(self, instance):
        return order_api_data(instance, self.context.get("items"))


class OrderDetailOutputSerializer(OrderOutputSerializer):
    payments = PaymentOutputSerializer(many=True)
    events = EventOutputSerializer(many=True)

    class Meta:
        ref_name = "OrderDetail"

    def to_representation(self, instance):
        return order_detail_data(instance)


# --- list ------------------------------------------------------------------------------

class OrderFilter(CreatedRangeFilterSet):
    status = django_filters.ChoiceFilter(choices=Order.Status.choices)
    method = django_filters.ChoiceFilter(choices=[(code, code) for code in ALL_METHODS], method="filter_method",
                                         label="Orders with a payment by this method")
    customer_email = django_filters.CharFilter(lookup_expr="iexact", max_length=254)
    reference = django_filters.CharFilter(max_length=64)
    partner_user_id = django_filters.CharFilter(max_length=254)

    class Meta:
        model = Order
        fields = ["status", "method", "customer_email", "reference", "partner_user_id",
                  "created_after", "created_before"]

    def filter_method(self, queryset, name, value):
        return queryset.filter(Exists(Payment.objects.filter(order=OuterRef("pk"), method=value)))


class OrderListApi(generics.ListAPIView):
    """GET /api/v1/orders/: newest first, paginated, filtered."""

    serializer_class = OrderOutputSerializer
    filterset_class = OrderFilter

    def get_queryset(self):
        seller = seller_of(self.request)
        if seller is None:  # schema generation
            return Order.objects.none()
        return (Order.objects.for_seller(seller).order_by("-created_at", "-pk")
                .prefetch_related(Prefetch("items", queryset=OrderItem.objects.order_by("pk"))))

    @extend_schema(operation_id="orders_list", responses={200: OrderOutputSerializer(many=True), **error_responses()})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


# --- create ----------------------------------------------------------------------------

class OrderItemInputSerializer(serializers.Serializer):
    name = StrictCharField(max_length=120)
    unit_amount = StrictIntegerField(min_value=1, max_value=MAX_MINOR, help_text="Minor units (paise, cents).")
    quantity = StrictIntegerField(min_value=1, max_value=100_000, default=1)

    class Meta:
        ref_name = "OrderItemInput"


class OrderCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        reference = StrictCharField(max_length=64, required=False, allow_blank=True, default="")
        currency = StrictCharField(max_length=3, help_text="ISO 4217 code, or XNO.")
        items = OrderItemInputSerializer(many=True, min_length=1, max_length=MAX_ITEMS)
        customer_email = LenientEmailField(required=False, allow_blank=True, default="")
        metadata = serializers.DictField(required=False, default=dict)
        partner_user_id = StrictCharField(max_length=254, required=False, allow_blank=True, default="")

        class Meta:
            ref_name = "OrderCreateInput"

        def validate_currency(self, value):
            if not is_supported_currency(value.upper()):
                raise serializers.ValidationError(f"“{value}” is not a supported currency code.")
            return value.upper()

        def validate_metadata(self, value):
            if len(value) > MAX_METADATA_KEYS or len(json.dumps(value)) > MAX_METADATA_BYTES:
                raise serializers.ValidationError(
                    f"Metadata holds at most {MAX_METADATA_KEYS} keys and {MAX_METADATA_BYTES} bytes.")
            return value

        def validate(self, attrs):
            total = sum(item["unit_amount"] * item["quantity"] for item in attrs["items"])
            if total > MAX_MINOR:
                raise serializers.ValidationError({"items": [f"The order total must not exceed {MAX_MINOR}."]})
            return attrs

    @extend_schema(
        operation_id="orders_create", parameters=[IDEMPOTENCY_KEY], request=InputSerializer,
        responses={201: OrderOutputSerializer, **error_responses(409, 413)},
        examples=[OpenApiExample("Two art prints", value=CREATE_EXAMPLE, request_only=True),
                  OpenApiExample("The new order", value=ORDER_EXAMPLE, response_only=True, status_codes=["201"])],
    )
    @idempotent(atomic_when=lambda request, **_url: True)  # creating an order only writes to the database
    def post(self, request):
        serializer = OrderCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        items = [ItemSpec(name=i["name"], unit_amount=i["unit_amount"], quantity=i["quantity"]) for i in data["items"]]
        order = order_create(
            seller=seller_of(request), currency=data["currency"], actor=api_actor(request), items=items,
            reference=data["reference"], customer_email=data["customer_email"], metadata=data["metadata"],
            partner_user_id=data["partner_user_id"],
        )
        # The items are exactly what was just written: no need to read them back.
        return Response(OrderOutputSerializer(order, context={"items": items}).data, status=status.HTTP_201_CREATED)


class OrderCollectionApi(OrderListApi, OrderCreateApi):
    """/api/v1/orders/: GET lists (OrderListApi), POST creates (OrderCreateApi)."""


# --- detail and update -------------------------------------------------------------------

class OrderDetailApi(APIView):
    @extend_schema(operation_id="orders_retrieve", parameters=[ORDER_ID],
                   responses={200: OrderDetailOutputSerializer, **error_responses()},
                   examples=[OpenApiExample("An order with one payment", response_only=True, value={
                       **ORDER_EXAMPLE, "payments": [PAYMENT_EXAMPLE],
                       "events": [{"type": "order.created", "from_status": "", "to_status": "open", "actor": "api",
                                   "payment": None, "data": {"amount": 99800, "currency": "INR"},
                                   "created_at": "2026-01-01T12:00:00Z"}]})])
    def get(self, request, order_id):
        order = get_owned_or_404(order_detail_queryset(seller_of(request)), order_id)
        return Response(OrderDetailOutputSerializer(order).data)


class OrderUpdateApi(APIView):
    """PATCH /api/v1/orders/<id>/: mark fulfilled and/or set delivery info (writes an order event)."""

    class InputSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=["fulfilled"], required=False,
                                         help_text="Only a paid order can be fulfilled.")
        delivery_info = StrictCharField(max_length=4000, required=False, allow_blank=True,
                                              help_text="Tracking number, download link, pickup note…")

        class Meta:
            ref_name = "OrderUpdateInput"

        def validate(self, attrs):
            if not attrs:
                raise serializers.ValidationError("Send status and/or delivery_info.")
            return attrs

    @extend_schema(
        operation_id="orders_partial_update", parameters=[ORDER_ID], request=InputSerializer,
        responses={200: OrderDetailOutputSerializer, **error_responses(409, 413)},
        examples=[OpenApiExample("Shipped", request_only=True,
                                 value={"status": "fulfilled", "delivery_info": "Shipped: DHL 1234567890"})],
    )
    def patch(self, request, order_id):
        seller = seller_of(request)
        order = get_owned_or_404(Order.objects.for_seller(seller), order_id)
        serializer = OrderUpdateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data, actor = serializer.validated_data, api_actor(request)
        if data.get("status") == "fulfilled" and order.status != Order.Status.FULFILLED:
            order_mark_fulfilled(order=order, actor=actor, delivery_info=data.get("delivery_info"))
        elif "delivery_info" in data:
            order_update_delivery(order=order, delivery_info=data["delivery_info"], actor=actor)
        order = get_owned_or_404(order_detail_queryset(seller), order.pk)
        return Response(OrderDetailOutputSerializer(order).data)


class OrderResourceApi(OrderDetailApi, OrderUpdateApi):
    """/api/v1/orders/<id>/: GET reads (OrderDetailApi), PATCH updates (OrderUpdateApi)."""

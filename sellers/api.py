"""REST API v1: analytics summary, webhook endpoints and their delivery log."""
from __future__ import annotations

import copy
import zoneinfo
from datetime import timedelta

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import StrictCharField, error_responses, get_owned_or_404, seller_of
from payments.analytics import EARLIEST_DAY, LATEST_DAY, MAX_CUSTOM_DAYS, DateRange, local_today, overview
from sellers.idempotency import OPENAPI_PARAMETER as IDEMPOTENCY_KEY
from sellers.idempotency import idempotent
from sellers.validators import validate_webhook_url
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import webhook_endpoint_create, webhook_endpoint_delete

ENDPOINT_ID = OpenApiParameter("endpoint_id", OpenApiTypes.INT, OpenApiParameter.PATH)


# --- analytics ---------------------------------------------------------------------------

class AnalyticsSummaryApi(APIView):
    """GET /api/v1/analytics/summary?from=&to=&tz=: totals for local days [from, to] in one currency."""

    class FilterSerializer(serializers.Serializer):
        from_ = serializers.DateField(required=False, help_text="First local day (default: 29 days before `to`).")
        to = serializers.DateField(required=False, help_text="Last local day, inclusive (default: today).")
        tz = serializers.CharField(required=False, max_length=64, help_text="IANA zone; default the seller's.")
        currency = serializers.CharField(required=False, max_length=5,
                                         help_text="Default: the seller's default currency.")

        class Meta:
            ref_name = "AnalyticsFilter"

        def get_fields(self):
            fields = super().get_fields()
            fields["from"] = fields.pop("from_")  # "from" is a Python keyword
            return fields

        def validate_tz(self, value):
            try:
                return zoneinfo.ZoneInfo(value).key
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise serializers.ValidationError(f"“{value}” is not a known IANA timezone.") from None

        def validate(self, attrs):
            for name in ("from", "to"):
                if attrs.get(name) and not EARLIEST_DAY <= attrs[name] <= LATEST_DAY:
                    raise serializers.ValidationError(
                        {name: [f"Use a date between {EARLIEST_DAY} and {LATEST_DAY}."]})
            if attrs.get("from") and attrs.get("to") and attrs["from"] > attrs["to"]:
                raise serializers.ValidationError({"from": ["`from` is after `to`."]})
            if attrs.get("from") and attrs.get("to") and (attrs["to"] - attrs["from"]).days >= MAX_CUSTOM_DAYS:
                raise serializers.ValidationError({"from": [f"A range spans at most {MAX_CUSTOM_DAYS} days."]})
            return attrs

    class OutputSerializer(serializers.Serializer):
        currency = serializers.CharField()
        tz = serializers.CharField()
        from_ = serializers.DateField()
        to = serializers.DateField()
        gross = serializers.IntegerField(help_text="Minor units.")
        net = serializers.IntegerField()
        fees = serializers.IntegerField()
        refunds = serializers.IntegerField()
        orders_created = serializers.IntegerField()
        orders_paid = serializers.IntegerField()
        conversion_rate = serializers.FloatField(allow_null=True, help_text="orders_paid / orders_created.")
        by_method = serializers.DictField(child=serializers.IntegerField(), help_text="Gross per method.")
        by_day = serializers.ListField(child=serializers.DictField(), help_text='[{"date", "gross"}]')

        class Meta:
            ref_name = "AnalyticsSummary"

        def get_fields(self):
            fields = super().get_fields()
            fields["from"] = fields.pop("from_")
            return fields

    @extend_schema(
        operation_id="analytics_summary",
        parameters=[OpenApiParameter("from", OpenApiTypes.DATE), OpenApiParameter("to", OpenApiTypes.DATE),
                    OpenApiParameter("tz", OpenApiTypes.STR), OpenApiParameter("currency", OpenApiTypes.STR)],
        responses={200: OutputSerializer, **error_responses()},
        examples=[OpenApiExample("Thirty days", response_only=True, value={
            "currency": "INR", "tz": "Asia/Kolkata", "from": "2026-01-01", "to": "2026-01-30", "gross": 998000,
            "net": 973050, "fees": 24950, "refunds": 0, "orders_created": 14, "orders_paid": 10,
            "conversion_rate": 0.714, "by_method": {"nano": 499000, "razorpay": 499000},
            "by_day": [{"date": "2026-01-01", "gross": 99800}]})],
    )
    def get(self, request):
        params = self.FilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        # The summary is cut into days in `tz`: a copy of the seller in that zone (never saved).
        seller = copy.copy(seller_of(request))
        seller.timezone = params.validated_data.get("tz", seller.timezone)
        end = params.validated_data.get("to") or local_today(seller)
        start = params.validated_data.get("from") or end - timedelta(days=29)
        if start > end:  # only `from` was given, and it is in the future
            raise ValidationError({"from": ["`from` is after `to` (today when omitted)."]})
        if (end - start).days >= MAX_CUSTOM_DAYS:
            start = end - timedelta(days=MAX_CUSTOM_DAYS - 1)
        result = overview(seller, DateRange(start, end), params.validated_data.get("currency"))
        current = result.current
        return Response({
            "currency": result.currency, "tz": seller.timezone, "from": start.isoformat(), "to": end.isoformat(),
            "gross": current.gross, "net": current.net, "fees": current.fees, "refunds": current.refunds,
            "orders_created": current.orders_created, "orders_paid": current.orders_paid,
            "conversion_rate": None if current.conversion is None else round(current.conversion, 4),
            "by_method": result.by_method,
            "by_day": [{"date": day.isoformat(), "gross": gross}
                       for day, gross in zip(result.days, result.volume_by_day, strict=True)],
        })


# --- webhook endpoints ----------------------------------------------------------------------

def endpoint_data(endpoint: WebhookEndpoint) -> dict:
    return {"id": endpoint.pk, "url": endpoint.url, "events": list(endpoint.events),
            "description": endpoint.description, "is_active": endpoint.is_active,
            "disabled_at": endpoint.disabled_at, "disabled_reason": endpoint.disabled_reason,
            "created_at": endpoint.created_at}


class EndpointOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField()
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEndpoint.EVENT_TYPES),
                                   help_text="Empty means every event.")
    description = serializers.CharField()
    is_active = serializers.BooleanField(help_text="False once it failed for 3 days (see disabled_reason).")
    disabled_at = serializers.DateTimeField(allow_null=True)
    disabled_reason = serializers.CharField()
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "WebhookEndpoint"

    def source_data(self, instance) -> dict:
        return endpoint_data(instance)

    def to_representation(self, instance):
        return super().to_representation(self.source_data(instance))


class EndpointCreatedOutputSerializer(EndpointOutputSerializer):
    secret = serializers.CharField(help_text="whsec_…: shown only in this response. Verify signatures with it.")

    class Meta:
        ref_name = "WebhookEndpointCreated"

    def source_data(self, instance) -> dict:
        return {**endpoint_data(instance), "secret": instance.secret}


class EndpointListApi(generics.ListAPIView):
    serializer_class = EndpointOutputSerializer

    def get_queryset(self):
        seller = seller_of(self.request)
        if seller is None:  # schema generation
            return WebhookEndpoint.objects.none()
        return WebhookEndpoint.objects.filter(seller=seller).order_by("-created_at", "-pk")

    @extend_schema(operation_id="webhook_endpoints_list",
                   responses={200: EndpointOutputSerializer(many=True), **error_responses()})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class EndpointCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        url = serializers.URLField(max_length=500)
        events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEndpoint.EVENT_TYPES),
                                       required=False, default=list, max_length=len(WebhookEndpoint.EVENT_TYPES),
                                       help_text="Event types to receive; empty or omitted means all.")
        description = StrictCharField(max_length=120, required=False, allow_blank=True, default="")

        class Meta:
            ref_name = "WebhookEndpointCreateInput"

        def validate_url(self, value):
            validate_webhook_url(value)  # SSRF: public addresses only outside DEBUG
            return value

        def validate_events(self, value):
            return list(dict.fromkeys(value))

    @extend_schema(
        operation_id="webhook_endpoints_create", parameters=[IDEMPOTENCY_KEY], request=InputSerializer,
        responses={201: EndpointCreatedOutputSerializer, **error_responses(409, 413)},
        examples=[
            OpenApiExample("Payment events", request_only=True, value={
                "url": "https://shop.example/hooks/kassa", "events": ["payment.completed", "refund.succeeded"]}),
            OpenApiExample("Created", response_only=True, status_codes=["201"], value={
                "id": 7, "url": "https://shop.example/hooks/kassa", "events": ["payment.completed", "refund.succeeded"],
                "description": "", "is_active": True, "disabled_at": None, "disabled_reason": "",
                "created_at": "2026-01-01T12:00:00Z", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}),
        ],
    )
    @idempotent
    def post(self, request):
        serializer = EndpointCreateApi.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = webhook_endpoint_create(seller=seller_of(request), **serializer.validated_data)  # 409 at the cap
        return Response(EndpointCreatedOutputSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class EndpointCollectionApi(EndpointListApi, EndpointCreateApi):
    """/api/v1/webhook-endpoints/: GET lists, POST creates."""


class EndpointDeleteApi(APIView):
    @extend_schema(operation_id="webhook_endpoints_destroy", parameters=[ENDPOINT_ID],
                   responses={204: None, **error_responses()})
    def delete(self, request, endpoint_id):
        endpoint = get_owned_or_404(WebhookEndpoint.objects.filter(seller=seller_of(request)), endpoint_id)
        webhook_endpoint_delete(endpoint=endpoint)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- deliveries -----------------------------------------------------------------------------

class DeliveryOutputSerializer(serializers.ModelSerializer):
    endpoint = serializers.IntegerField(source="endpoint_id")

    class Meta:
        model = WebhookDelivery
        ref_name = "WebhookDelivery"
        fields = ["id", "endpoint", "message_id", "event_type", "status", "attempts", "next_attempt_at",
                  "last_status_code", "last_error", "created_at", "delivered_at", "payload"]


class DeliveryListApi(generics.ListAPIView):
    """GET /api/v1/webhook-endpoints/<id>/deliveries/: newest first, with retry state."""

    serializer_class = DeliveryOutputSerializer

    def get_queryset(self):
        seller = seller_of(self.request)
        if seller is None:  # schema generation
            return WebhookDelivery.objects.none()
        endpoint = get_owned_or_404(WebhookEndpoint.objects.filter(seller=seller), self.kwargs["endpoint_id"])
        return WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-created_at", "-pk")

    @extend_schema(operation_id="webhook_endpoints_deliveries_list", parameters=[ENDPOINT_ID],
                   responses={200: DeliveryOutputSerializer(many=True), **error_responses()})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


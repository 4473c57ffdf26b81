"""Inbound events: list and filter, read one with its handlers' outcomes, reprocess."""

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from integrations import events
from integrations.api.manage.filtering import AccountFilter, IntegerFilter
from integrations.api.manage.views import ScopedReadOnlyViewSet
from integrations.models import HandlerRun, InboundEvent
from integrations.services.processing import inbound_events_reprocess


class InboundEventFilter(filters.FilterSet):
    account = AccountFilter()
    status = filters.ChoiceFilter(choices=InboundEvent.Status.choices)
    outcome = filters.ChoiceFilter(choices=InboundEvent.Outcome.choices)
    verification = filters.ChoiceFilter(choices=InboundEvent.Verification.choices)
    event_type = filters.CharFilter(max_length=100, help_text="e.g. ConversationClosed")
    event_id = filters.CharFilter(max_length=255)
    csid = IntegerFilter(help_text="Dixa conversation id.")
    received_after = filters.IsoDateTimeFilter(field_name="received_at", lookup_expr="gte")
    received_before = filters.IsoDateTimeFilter(field_name="received_at", lookup_expr="lt")

    class Meta:
        model = InboundEvent
        fields = []


class HandlerRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = HandlerRun
        fields = ["handler", "outcome", "reason", "attempts", "finished_at"]


class InboundEventSerializer(serializers.ModelSerializer):
    account = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = InboundEvent
        fields = [
            "id",
            "account",
            "event_id",
            "event_type",
            "event_fqn",
            "is_known_type",
            "event_timestamp",
            "csid",
            "queue_id",
            "channel",
            "verification",
            "received_at",
            "status",
            "outcome",
            "outcome_reason",
            "processing_attempts",
            "processed_at",
        ]


class InboundEventDetailSerializer(InboundEventSerializer):
    handler_runs = HandlerRunSerializer(many=True, read_only=True)

    class Meta(InboundEventSerializer.Meta):
        fields = [*InboundEventSerializer.Meta.fields, "handler_runs"]


class ReprocessSerializer(serializers.Serializer):
    handler = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="Run this handler only (e.g. ivr); empty: every handler.",
    )

    def validate_handler(self, value: str) -> str:
        if value and value not in events.handler_names():
            raise serializers.ValidationError(
                f"Unknown handler; one of: {', '.join(events.handler_names())}."
            )
        return value


class QueuedSerializer(serializers.Serializer):
    queued = serializers.IntegerField(help_text="How many were queued.")


class InboundEventViewSet(ScopedReadOnlyViewSet):
    """Dixa's deliveries as stored, newest first."""

    queryset = InboundEvent.objects.select_related("account")
    filterset_class = InboundEventFilter

    def get_serializer_class(self):
        return InboundEventDetailSerializer if self.action == "retrieve" else InboundEventSerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("handler_runs")
        return queryset

    @extend_schema(
        request=ReprocessSerializer,
        responses={202: QueuedSerializer},
        description="Send the event through its handlers again (they are idempotent). "
        "409 when it is being processed or retention removed its body.",
    )
    @action(detail=True, methods=["post"])
    def reprocess(self, request, pk=None):
        event = self.get_object()
        body = ReprocessSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        handler = body.validated_data.get("handler", "")
        this = InboundEvent.objects.filter(pk=event.pk)
        queued = inbound_events_reprocess(queryset=this, handler=handler)
        self.audit(
            action="event reprocess",
            objects=this,
            summary=f"Reprocess event {event.pk} through "
            + (f"the {handler} handler" if handler else "every handler"),
            result=f"{queued} queued for reprocessing",
        )
        if not queued:
            return Response(
                {
                    "error": "conflict",
                    "detail": "The event is being processed, or retention removed its body.",
                },
                status=status.HTTP_409_CONFLICT,
            )
        return Response({"queued": queued}, status=status.HTTP_202_ACCEPTED)

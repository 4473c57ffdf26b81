"""Surveys (SurveyTrigger) in the management API: list and filter, read one with its tries,
and the admin's actions on them: retry now, cancel, resend one, resend dead letters since T."""

from django.db import transaction
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from integrations.admin.scoping import scoped, visible_accounts
from integrations.api.manage.events import QueuedSerializer
from integrations.api.manage.fields import AccountSlugField
from integrations.api.manage.filtering import AccountFilter, IntegerFilter
from integrations.api.manage.views import ScopedReadOnlyViewSet
from ivr.models import DeliveryAttempt, IvrMapping, SurveyTrigger
from ivr.services import operations


def user_mappings(request):
    return scoped(IvrMapping.objects.all(), request.user) if request else IvrMapping.objects.none()


class SurveyFilter(filters.FilterSet):
    account = AccountFilter()
    mapping = filters.ModelChoiceFilter(queryset=user_mappings, help_text="A mapping's id.")
    status = filters.ChoiceFilter(choices=SurveyTrigger.Status.choices)
    csid = IntegerFilter(help_text="Dixa conversation id.")
    last_status_code = IntegerFilter(min_value=0, max_value=999)
    created_after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    finished_after = filters.IsoDateTimeFilter(field_name="finished_at", lookup_expr="gte")
    finished_before = filters.IsoDateTimeFilter(field_name="finished_at", lookup_expr="lt")

    class Meta:
        model = SurveyTrigger
        fields = []


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = [
            "number",
            "scheduled_for",
            "created_at",
            "response_status_code",
            "duration_ms",
            "error",
            "outcome",
        ]


class SurveySerializer(serializers.ModelSerializer):
    account = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = SurveyTrigger
        fields = [
            "id",
            "guid",
            "account",
            "mapping",
            "inbound_event",
            "campaign_id",
            "csid",
            "respondent_email",
            "respondent_phone",
            "status",
            "next_attempt_at",
            "attempt_count",
            "last_status_code",
            "reason",
            "created_at",
            "finished_at",
        ]


class SurveyDetailSerializer(SurveySerializer):
    attempts = AttemptSerializer(many=True, read_only=True)

    class Meta(SurveySerializer.Meta):
        fields = [*SurveySerializer.Meta.fields, "attempts"]


class ResendSinceSerializer(serializers.Serializer):
    since = serializers.DateTimeField(help_text="Dead letters that failed at or after this time.")
    account = AccountSlugField(
        required=False,
        help_text="Only this account's (a slug); absent: all of the user's accounts.",
    )


class ResentSerializer(serializers.Serializer):
    resent = serializers.IntegerField(help_text="How many dead letters start over.")


class ChangedSerializer(serializers.Serializer):
    changed = serializers.IntegerField(help_text="How many surveys changed (0 or 1).")


def _one_changed(count: int, refused: str) -> Response:
    if not count:
        return Response({"error": "conflict", "detail": refused}, status=status.HTTP_409_CONFLICT)
    return Response({"changed": count}, status=status.HTTP_202_ACCEPTED)


class SurveyViewSet(ScopedReadOnlyViewSet):
    """Campaign members to add in nps.today and where each stands, newest first."""

    queryset = SurveyTrigger.objects.select_related("account")
    filterset_class = SurveyFilter

    def get_serializer_class(self):
        return SurveyDetailSerializer if self.action == "retrieve" else SurveySerializer

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("attempts")
        return queryset

    def _this(self):
        return SurveyTrigger.objects.filter(pk=self.get_object().pk)

    @extend_schema(request=None, responses={202: ChangedSerializer})
    @action(detail=True, methods=["post"])
    def resend(self, request, pk=None):
        """A dead letter (or a cancelled survey) starts over, with the same guid."""
        this = self._this()
        count = operations.survey_triggers_resend(queryset=this, by=self.by())
        self.audit(
            action="survey resend",
            objects=this,
            summary=f"Resend survey {self.kwargs['pk']}",
            result=f"{count} resent (only dead letters and cancelled surveys are resent)",
        )
        return _one_changed(count, "Only a dead letter or a cancelled survey can be resent.")

    @extend_schema(request=None, responses={202: ChangedSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """A pending or held survey is not sent."""
        this = self._this()
        count = operations.survey_triggers_cancel(queryset=this, by=self.by())
        self.audit(
            action="survey cancel",
            objects=this,
            summary=f"Cancel survey {self.kwargs['pk']}",
            result=f"{count} cancelled (only pending and held surveys are cancelled)",
        )
        return _one_changed(count, "Only a pending or held survey can be cancelled.")

    @extend_schema(request=None, responses={202: QueuedSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """A pending survey (waiting for a retry or its delay) goes now."""
        this = self._this()
        count = operations.survey_triggers_retry_now(queryset=this)
        self.audit(
            action="survey retry now",
            objects=this,
            summary=f"Retry survey {self.kwargs['pk']} now",
            result=f"{count} queued now (only pending surveys are retried)",
        )
        if not count:
            return _one_changed(0, "Only a pending survey can be retried now.")
        return Response({"queued": count}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=ResendSinceSerializer, responses={202: ResentSerializer})
    @action(detail=False, methods=["post"], url_path="resend-dead-letters")
    def resend_dead_letters(self, request):
        """Every dead letter of the user's accounts (or of one) that failed since `since`."""
        body = ResendSinceSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        account = body.validated_data.get("account")
        accounts = visible_accounts(request.user)
        if account is not None:
            accounts = accounts.filter(pk=account.pk)
        since = body.validated_data["since"]
        with transaction.atomic():  # the surveys resent are the surveys audited
            pks = operations.survey_triggers_resend_failed_since(
                queryset=SurveyTrigger.objects.filter(account__in=accounts),
                since=since,
                by=self.by(),
            )
            self.audit(
                action="survey resend since",
                objects=SurveyTrigger.objects.filter(pk__in=pks),
                summary=f"Resend the dead letters that failed since {since:%Y-%m-%d %H:%M} UTC",
                result=f"{len(pks)} resent",
            )
        return Response({"resent": len(pks)}, status=status.HTTP_202_ACCEPTED)

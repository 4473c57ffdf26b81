"""P-GAP figures in the management API: what the admin's P-GAP page shows (overall, per
agent, per mapping, the trend and the 11 × 11 matrix), for the user's accounts."""

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.admin.scoping import scoped, visible_accounts
from integrations.api.manage.fields import AccountSlugField
from integrations.api.manage.filtering import refused_parameters
from integrations.api.manage.views import ManagementApiMixin
from ivr.models import IvrMapping
from pgap.admin.analytics_form import EARLIEST, LATEST, MAX_DAYS, MAX_WEEKS
from pgap.models import PgapPair
from pgap.selectors.analytics import PairFilter, day_start, pgap_analytics

DEFAULT_DAYS = 30


class FiguresQuerySerializer(serializers.Serializer):
    account = AccountSlugField(
        required=False, help_text="An account's slug; absent: all of the user's accounts."
    )
    mapping = serializers.PrimaryKeyRelatedField(
        queryset=IvrMapping.objects.none(), required=False, help_text="A mapping's id."
    )
    agent = serializers.EmailField(required=False, max_length=254, help_text="An agent's email.")
    start = serializers.DateField(required=False, help_text=f"Default: {DEFAULT_DAYS} days ago.")
    end = serializers.DateField(required=False, help_text="Inclusive. Default: today.")
    by = serializers.ChoiceField(
        choices=["week", "month"],
        default="week",
        help_text="The trend's periods (week becomes month past two years).",
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if user is not None:  # None: the schema generator's instance
            self.fields["mapping"].queryset = scoped(IvrMapping.objects.all(), user)

    def to_internal_value(self, data):
        refused = refused_parameters(data, self.fields)
        refused.update({name: ["May not be blank."] for name in data if data.get(name) == ""})
        if refused:
            raise serializers.ValidationError(refused)
        return super().to_internal_value(data)

    def validate(self, data):
        outside = f"Choose days from {EARLIEST.year} to {LATEST.year}."
        start, end = data.get("start"), data.get("end") or timezone.localdate()
        if start is not None and not EARLIEST <= start <= LATEST:
            raise serializers.ValidationError({"start": [outside]})
        if not EARLIEST <= end <= LATEST:  # before the default start: near date.min it overflows
            raise serializers.ValidationError({"end": [outside]})
        start = start or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise serializers.ValidationError({"end": ["The end is before the start."]})
        if start < EARLIEST:
            raise serializers.ValidationError({"start": [outside]})
        if (end - start).days >= MAX_DAYS:
            raise serializers.ValidationError({"start": ["Choose at most ten years."]})
        account, mapping = data.get("account"), data.get("mapping")
        if account and mapping and mapping.account_id != account.pk:
            raise serializers.ValidationError(
                {"mapping": ["This mapping belongs to another account."]}
            )
        bucket = data["by"]
        if bucket == "week" and (end - start).days >= 7 * MAX_WEEKS:
            bucket = "month"
        return {**data, "start": start, "end": end, "by": bucket}

    def pair_filter(self) -> PairFilter:
        data = self.validated_data
        accounts = [data["account"]] if data.get("account") else visible_accounts(self.user)
        return PairFilter(
            accounts=[a.pk for a in accounts],
            start=day_start(data["start"]),
            end=day_start(data["end"] + timedelta(days=1)),
            mapping_id=data["mapping"].pk if data.get("mapping") else None,
            agent_email=data.get("agent"),
        )


class StatsSerializer(serializers.Serializer):
    pairs = serializers.IntegerField()
    mean_gap = serializers.FloatField(allow_null=True, help_text="Mean of agent − customer.")
    mean_abs_gap = serializers.FloatField(allow_null=True)
    within_one_share = serializers.FloatField(allow_null=True)
    over_share = serializers.FloatField(allow_null=True, help_text="Agent above customer.")
    under_share = serializers.FloatField(allow_null=True)
    customer_nps = serializers.FloatField(allow_null=True)
    agent_nps = serializers.FloatField(allow_null=True)


class AgentStatsSerializer(StatsSerializer):
    agent_email = serializers.CharField(source="key.agent_email")
    agent_name = serializers.CharField(source="key.agent_name", allow_null=True)


class MappingStatsSerializer(StatsSerializer):
    mapping_id = serializers.IntegerField(source="key.mapping_id", allow_null=True)
    mapping_name = serializers.CharField(source="key.mapping_name")
    queue_id = serializers.CharField(source="key.queue_id")


class PeriodStatsSerializer(StatsSerializer):
    period = serializers.DateTimeField(source="key.period", help_text="The period's start.")


class FiguresSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    by = serializers.CharField()
    overall = StatsSerializer()
    agents = AgentStatsSerializer(many=True)
    mappings = MappingStatsSerializer(many=True)
    trend = PeriodStatsSerializer(many=True)
    matrix = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text="matrix[agent score][customer score] = pairs (11 × 11).",
    )


class PgapFiguresView(ManagementApiMixin, APIView):
    """The agents' predicted scores beside their customers' answers."""

    permission_model = PgapPair

    @extend_schema(parameters=[FiguresQuerySerializer], responses=FiguresSerializer)
    def get(self, request):
        query = FiguresQuerySerializer(
            data=request.query_params, user=request.user, context={"request": request}
        )
        query.is_valid(raise_exception=True)
        analytics = pgap_analytics(query.pair_filter(), bucket=query.validated_data["by"])
        data = {**vars(analytics), **{k: query.validated_data[k] for k in ("start", "end", "by")}}
        return Response(FiguresSerializer(data).data)

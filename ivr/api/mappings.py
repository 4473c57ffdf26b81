"""IVR mappings in the management API: create, read, change and delete, within the user's
accounts. Secrets are write-only (the last four are shown, as in the admin)."""

from django.db import transaction
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from integrations import crypto
from integrations.api.manage.fields import AccountSlugField
from integrations.api.manage.filtering import AccountFilter, BooleanFilter, IntegerFilter
from integrations.api.manage.views import ScopedViewSetMixin
from ivr.models import CHANNELS, IvrMapping
from ivr.services.mappings import (
    MappingInUse,
    ivr_mapping_create,
    ivr_mapping_delete,
    ivr_mapping_update,
)


class MappingFilter(filters.FilterSet):
    account = AccountFilter()
    enabled = BooleanFilter()
    queue_id = filters.CharFilter(max_length=64)
    campaign_id = IntegerFilter(min_value=0, max_value=2**31 - 1)

    class Meta:
        model = IvrMapping
        fields = []


class MappingSerializer(serializers.ModelSerializer):
    account = AccountSlugField(
        help_text="The account's slug; set when the mapping is created, never changed."
    )
    channels = serializers.ListField(
        child=serializers.ChoiceField(choices=CHANNELS),
        required=False,
        max_length=len(CHANNELS),
        help_text="Survey only these channels; empty: all.",
    )
    excluded_tags = serializers.ListField(
        child=serializers.CharField(max_length=200),
        required=False,
        max_length=100,
        help_text="No survey when the conversation has any of these tags.",
    )
    dixa_api_token_last4 = serializers.SerializerMethodField()

    class Meta:
        model = IvrMapping
        fields = [
            "id",
            "account",
            "name",
            "enabled",
            "campaign_id",
            "campaign_name",
            "queue_id",
            "queue_name",
            "dixa_api_token",
            "dixa_api_token_last4",
            "channels",
            "excluded_tags",
            "delay_minutes",
            "quarantine_days",
            "once_per_conversation",
            "sample_percent",
            "created_at",
        ]
        read_only_fields = ["campaign_name", "queue_name", "created_at"]
        extra_kwargs = {
            "dixa_api_token": {
                "write_only": True,
                "help_text": "Write-only. Omitted: kept; empty: removed.",
            }
        }

    @extend_schema_field(serializers.CharField())
    def get_dixa_api_token_last4(self, obj) -> str:
        return crypto.mask(obj.dixa_api_token)

    def validate_account(self, account):
        if self.instance is not None and account != self.instance.account:
            raise ValidationError("A mapping stays with its account.")
        return account


class MappingViewSet(
    ScopedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Which Dixa queue feeds which nps.today campaign, and the survey rules."""

    queryset = IvrMapping.objects.select_related("account")
    serializer_class = MappingSerializer
    filterset_class = MappingFilter

    def perform_create(self, serializer):
        fields = dict(serializer.validated_data)
        account = fields.pop("account")
        mapping = ivr_mapping_create(account=account, fields=fields)
        serializer.instance = mapping
        self.audit(
            action="IVR mapping add",
            objects=[mapping],
            summary=f"{mapping}: added",
            result="saved",
        )

    def perform_update(self, serializer):
        fields = dict(serializer.validated_data)
        fields.pop("account", None)
        mapping = ivr_mapping_update(mapping=serializer.instance, fields=fields)
        serializer.instance = mapping
        self.audit(
            action="IVR mapping change",
            objects=[mapping],
            summary=f"{mapping}: changed {', '.join(sorted(fields)) or 'nothing'}",
            result="saved",
        )

    def destroy(self, request, *args, **kwargs):
        mapping = self.get_object()
        try:
            with transaction.atomic():  # the entry names the mapping while it still exists
                self.audit(
                    action="IVR mapping delete",
                    objects=[mapping],
                    summary=f"Delete {mapping}",
                    result="deleted",
                )
                ivr_mapping_delete(mapping=mapping)
        except MappingInUse as exc:
            return Response(
                {"error": "conflict", "detail": str(exc)}, status=status.HTTP_409_CONFLICT
            )
        return Response(status=status.HTTP_204_NO_CONTENT)

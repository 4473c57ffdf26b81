"""/api/v1/erasures: erase a person's data (docs/erasure.md), and the erasures done."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from integrations.admin.scoping import visible_accounts
from integrations.api.manage.fields import AccountSlugField
from integrations.api.manage.views import ScopedReadOnlyViewSet
from integrations.erasure.models import Erasure
from integrations.erasure.services import personal_data_erase, subject_for


class ErasureSerializer(serializers.ModelSerializer):
    account = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    counts = serializers.DictField(child=serializers.IntegerField(), read_only=True)

    class Meta:
        model = Erasure
        fields = [
            "id",
            "at",
            "account",
            "actor_label",
            "kind",
            "dry_run",
            "conversations",
            "counts",
        ]
        read_only_fields = fields


class ErasureRequestSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Erasure.Kind.choices)
    value = serializers.CharField(max_length=254, help_text="The email, phone, id or csid.")
    accounts = serializers.ListField(
        child=AccountSlugField(),
        required=False,
        help_text="Where to erase (slugs); every account of yours when left out.",
    )
    dry_run = serializers.BooleanField(default=False, help_text="Count, change nothing.")

    def validate(self, data):
        try:
            data["subject"] = subject_for(data["kind"], data["value"])
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"value": exc.messages}) from exc
        return data


class ErasureViewSet(mixins.CreateModelMixin, ScopedReadOnlyViewSet):
    """Erasures done (and dry runs), newest first; POST erases one person's data."""

    queryset = Erasure.objects.select_related("account")
    serializer_class = ErasureSerializer

    @extend_schema(
        request=ErasureRequestSerializer,
        responses={201: ErasureSerializer(many=True), 200: ErasureSerializer(many=True)},
        description="Erase (or, with dry_run, count) the person's data in the accounts named, "
        "one record per account. 201 when data was changed, 200 for a dry run or when "
        "nothing matched (then nothing changed).",
    )
    def create(self, request, *args, **kwargs):
        body = ErasureRequestSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        accounts = body.validated_data.get("accounts") or visible_accounts(request.user)
        if isinstance(accounts, list):
            accounts = visible_accounts(request.user).filter(pk__in=[a.pk for a in accounts])
        records = personal_data_erase(
            subject=body.validated_data["subject"],
            accounts=accounts,
            actor=request.user,
            dry_run=body.validated_data["dry_run"],
        )
        changed = not body.validated_data["dry_run"] and any(r.rows for r in records)
        return Response(
            ErasureSerializer(records, many=True).data,
            status=status.HTTP_201_CREATED if changed else status.HTTP_200_OK,
        )

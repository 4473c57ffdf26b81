"""The caller's accounts: the slugs the other endpoints filter by."""

from rest_framework import serializers

from integrations.api.manage.views import ScopedReadOnlyViewSet
from integrations.models import Account


class AccountSerializer(serializers.ModelSerializer):
    class Meta:
        model = Account
        fields = ["slug", "name", "require_signature", "created_at"]


class AccountViewSet(ScopedReadOnlyViewSet):
    """The accounts the user may see in the admin; their slugs are the `account` filters."""

    queryset = Account.objects.all()
    serializer_class = AccountSerializer
    lookup_field = "slug"
    filterset_fields: list[str] = []

from rest_framework import serializers

from integrations.admin.scoping import visible_accounts
from integrations.models import Account


class AccountSlugField(serializers.SlugRelatedField):
    """An account of the requesting user's, by slug (another's reads as unknown)."""

    default_error_messages = {"null_characters": "Null characters are not allowed."}

    def __init__(self, **kwargs):
        super().__init__(slug_field="slug", queryset=Account.objects.none(), **kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return visible_accounts(user) if user is not None else Account.objects.none()

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:  # PostgreSQL refuses NUL in text
            self.fail("null_characters")
        return super().to_internal_value(data)

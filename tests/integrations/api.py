"""Helpers for the management API's tests: staff users with the admin's permissions, and
clients that carry their management token."""

from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from integrations.services.management_tokens import management_token_create

# Every permission the API's endpoints ask for.
API_MODELS = ("account", "inboundevent", "surveytrigger", "ivrmapping", "pgappair")
ALL_PERMS = tuple(
    f"{action}_{model}" for action in ("view", "add", "change", "delete") for model in API_MODELS
)
VIEW_PERMS = tuple(f"view_{model}" for model in API_MODELS)


def make_staff(django_user_model, username, *accounts, perms=ALL_PERMS, **extra):
    user = django_user_model.objects.create_user(
        username, password="pw", is_staff=extra.pop("is_staff", True), **extra
    )
    user.user_permissions.set(Permission.objects.filter(codename__in=perms))
    for account in accounts:
        account.members.add(user)
    return user


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {management_token_create(user=user, name='t').plaintext}"
    )
    return client

"""Management tokens: issued once, stored hashed, revocable, and only an active user's."""

import hashlib
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from rest_framework.test import APIClient

from integrations.models import ManagementToken
from integrations.services.management_tokens import (
    management_token_authenticate,
    management_token_create,
    management_token_revoke,
)
from tests.integrations.api import make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(account, django_user_model):
    return make_staff(django_user_model, "alice", account)


def bearer(plaintext: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    return client


def test_only_the_tokens_hash_is_stored(staff):
    # when
    issued = management_token_create(user=staff, name="ci")
    # then
    stored = ManagementToken.objects.get()
    assert stored.key_hash == hashlib.sha256(issued.plaintext.encode()).hexdigest()
    assert issued.plaintext not in {stored.prefix, stored.key_hash, stored.name}
    assert issued.plaintext.startswith(stored.prefix)


def test_a_token_authenticates_as_its_user_until_revoked(staff):
    # given
    issued = management_token_create(user=staff, name="ci")
    # when / then
    assert management_token_authenticate(plaintext=issued.plaintext).user == staff
    assert bearer(issued.plaintext).get("/api/v1/accounts").status_code == 200
    assert management_token_revoke(token=issued.token) is True
    assert management_token_revoke(token=issued.token) is False
    assert management_token_authenticate(plaintext=issued.plaintext) is None
    assert bearer(issued.plaintext).get("/api/v1/accounts").status_code == 401


def test_an_inactive_users_token_is_refused(staff):
    # given
    issued = management_token_create(user=staff, name="ci")
    staff.is_active = False
    staff.save()
    # when
    response = bearer(issued.plaintext).get("/api/v1/accounts")
    # then
    assert response.status_code == 401


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Bearer dsm_wrong",
        "Bearer " + "x" * 2000,
        "Bearer dsm_\x00abc",
        "Basic !!!",
        "Token dsr_an-api-key-is-not-a-management-token",
    ],
)
def test_missing_or_bad_credentials_are_401_with_a_challenge(staff, header):
    # given
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    # when
    response = client.get("/api/v1/events")
    # then
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert set(response.json()) == {"error", "detail"}


def test_a_relay_api_key_is_not_a_management_token(staff, issued_key):
    # when
    response = bearer(issued_key.plaintext).get("/api/v1/events")
    # then
    assert response.status_code == 401


def test_the_command_prints_a_working_token_once(staff):
    # when
    out = StringIO()
    call_command("create_management_token", "--user", "alice", "--name", "ci", stdout=out)
    # then
    plaintext = out.getvalue().strip().splitlines()[-1]
    assert bearer(plaintext).get("/api/v1/accounts").status_code == 200
    assert ManagementToken.objects.get().name == "ci"


def test_the_command_refuses_a_user_who_is_not_staff(django_user_model):
    # given
    django_user_model.objects.create_user("mallory", password="pw")
    # when / then
    with pytest.raises(CommandError):
        call_command("create_management_token", "--user", "mallory")
    with pytest.raises(CommandError):
        call_command("create_management_token", "--user", "nobody")
    assert not ManagementToken.objects.exists()


def test_the_admin_links_the_api_docs_which_say_where_a_token_comes_from(admin_client):
    index = admin_client.get(reverse("admin:index")).content.decode()
    assert f'<a href="{reverse("api-docs")}">API docs</a>' in index
    schema = admin_client.get(reverse("api-schema"), {"format": "json"}).json()
    described = schema["components"]["securitySchemes"]["managementToken"]["description"]
    assert "Management tokens → Add" in described and "create_management_token" in described

"""Management tokens in the admin: issued once to oneself, listed per user, revoked."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from integrations.models import ManagementToken
from integrations.services.management_tokens import (
    management_token_authenticate,
    management_token_create,
)
from tests.integrations.api import make_staff

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:integrations_managementtoken_changelist"


@pytest.fixture
def alice(account, django_user_model):
    return make_staff(django_user_model, "alice", account, perms=())


def test_staff_issue_a_token_to_themselves_shown_once(client, alice):
    # given
    client.force_login(alice)
    # when
    response = client.post(reverse("admin:integrations_managementtoken_add"), {"name": "laptop"})
    # then
    assert response.status_code == 302
    shown = [str(m) for m in get_messages(response.wsgi_request) if "Copy this token" in str(m)]
    plaintext = shown[0].rsplit(" ", 1)[-1]
    token = management_token_authenticate(plaintext=plaintext)
    assert token is not None and token.user == alice and token.name == "laptop"


def test_staff_see_and_revoke_only_their_own_tokens(client, alice, django_user_model):
    # given
    mine = management_token_create(user=alice, name="MINE").token
    theirs = management_token_create(user=make_staff(django_user_model, "bob"), name="THEIRS").token
    client.force_login(alice)
    # when
    listing = client.get(reverse(CHANGELIST)).content.decode()
    client.post(
        reverse(CHANGELIST),
        {"action": "revoke", "confirmed": "yes", "_selected_action": [mine.pk, theirs.pk]},
    )
    # then
    assert "MINE" in listing and "THEIRS" not in listing
    assert ManagementToken.objects.get(pk=mine.pk).revoked_at is not None
    assert ManagementToken.objects.get(pk=theirs.pk).revoked_at is None


def test_non_staff_cannot_reach_the_tokens(client, account, django_user_model):
    # given
    member = make_staff(django_user_model, "carol", account, is_staff=False)
    client.force_login(member)
    # when
    response = client.get(reverse(CHANGELIST))
    # then
    assert response.status_code == 302  # to the admin's login

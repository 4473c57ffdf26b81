"""Response hooks: the secret in nps.today's target URL, issued, checked and revoked like our
API keys, and the endpoint's answers to a wrong or missing secret."""

import hashlib
import logging

import pytest
from django.urls import reverse

from pgap.models import ResponseHook
from pgap.services.hooks import (
    response_hook_authenticate,
    response_hook_create,
    response_hook_revoke,
    response_hook_url,
)
from tests.integrations.factories import AccountFactory

pytestmark = pytest.mark.django_db

BODY = {"Id": 1, "Rating": 9}


def post(client, path: str, body=BODY):
    return client.post(path, data=body, content_type="application/json")


def test_a_hook_is_stored_hashed_with_a_prefix_for_the_lookup(account):
    # when
    issued = response_hook_create(account=account)
    # then
    hook = ResponseHook.objects.get()
    assert issued.secret.startswith("prh_") and len(issued.secret) == 55
    assert hook.prefix == issued.secret[:12]
    assert hook.secret_hash == hashlib.sha256(issued.secret.encode()).hexdigest()
    assert issued.secret not in str(ResponseHook.objects.values().get())


def test_the_secret_authenticates_its_hook_and_nothing_else(account):
    # given
    issued = response_hook_create(account=account)
    other = response_hook_create(account=AccountFactory())
    # then
    assert response_hook_authenticate(secret=issued.secret) == issued.hook
    assert response_hook_authenticate(secret=issued.secret).account == account
    assert response_hook_authenticate(secret=issued.secret[:-1] + "x") is None
    assert response_hook_authenticate(secret=issued.secret[:12] + other.secret[12:]) is None


@pytest.mark.parametrize(
    "secret",
    ["", "prh_", "dsr_abcdefgh" + "x" * 43, "prh_" + "x" * 300, "prh_abcdefgh\x00x", "prh_é" * 12],
)
def test_a_secret_of_the_wrong_shape_is_refused_before_the_lookup(
    account, secret, django_assert_num_queries
):
    with django_assert_num_queries(0):
        assert response_hook_authenticate(secret=secret) is None


def test_a_revoked_hook_no_longer_authenticates(account):
    # given
    issued = response_hook_create(account=account)
    # when
    assert response_hook_revoke(hook=issued.hook) is True
    # then
    assert response_hook_authenticate(secret=issued.secret) is None
    assert response_hook_revoke(hook=issued.hook) is False


def test_the_url_is_our_path_on_the_base_given():
    for base in ("https://relay.test/", "https://relay.test"):
        assert (
            response_hook_url(secret="prh_abc", base_url=base)
            == "https://relay.test/api/npstoday/responses/prh_abc"
        )


def test_the_issued_url_reaches_the_endpoint(client, account):
    issued = response_hook_create(account=account)
    url = issued.url("http://testserver")
    assert post(client, url.removeprefix("http://testserver")).status_code == 202


@pytest.mark.parametrize(
    "path, code",
    [
        ("/api/npstoday/responses", "missing_credentials"),
        ("/api/npstoday/responses/prh_unknown0000000000000000000000", "invalid_credentials"),
        ("/api/npstoday/responses/nonsense", "invalid_credentials"),
    ],
)
def test_a_missing_or_unknown_secret_is_401(client, account, path, code):
    # when
    response = post(client, path)
    # then
    assert response.status_code == 401
    assert response.json()["error"] == code
    assert response.json()["detail"]
    assert response.headers["WWW-Authenticate"]


def test_a_revoked_secret_is_401(client, account):
    # given
    issued = response_hook_create(account=account)
    response_hook_revoke(hook=issued.hook)
    # when
    response = post(client, reverse("npstoday-responses", kwargs={"secret": issued.secret}))
    # then
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_credentials"


def test_a_wrong_method_is_405_before_the_secret_is_checked(client):
    response = client.get("/api/npstoday/responses/prh_unknown")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


def test_refusals_are_logged_without_the_secret(client, account, caplog):
    # given a valid hook, and a body it refuses
    issued = response_hook_create(account=account)
    path = reverse("npstoday-responses", kwargs={"secret": issued.secret})
    # when
    with caplog.at_level(logging.INFO):
        bad = post(client, path, body={"Rating": 1})
        unknown = post(client, path[:-1] + ("a" if path[-1] != "a" else "b"))
    # then
    assert (bad.status_code, unknown.status_code) == (400, 401)
    assert issued.secret not in caplog.text
    assert issued.secret[:-1] not in caplog.text
    assert f"{issued.hook.prefix}…: 400 invalid_payload" in caplog.text

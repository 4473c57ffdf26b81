"""No error report (Django's debug page, the admins' error mail) shows a secret: the
functions that hold one are marked with `sensitive_variables`."""

import sys
import time
from unittest import mock

import pytest
from django.test import RequestFactory
from django.views.debug import ExceptionReporter

from integrations.dixa import samples
from tests.integrations.factories import SigningSecretFactory

pytestmark = pytest.mark.django_db
SECRET = "5ec7e7" * 8
HIDDEN = "'********************'"  # how Django's report shows a sensitive variable


def frames_of(call) -> dict[str, dict[str, str]]:
    """Each frame's local variables as Django's error report shows them, by function
    (the frames outside the tests)."""
    request = RequestFactory().post("/api/dixa/relay")
    try:
        call()
    except RuntimeError:
        data = ExceptionReporter(request, *sys.exc_info()).get_traceback_data()
        return {
            f["function"]: dict(f["vars"])
            for f in data["frames"]
            # The test's own frames and Django's test client hold the secrets by design.
            if "/tests/" not in f["filename"] and "/django/test/" not in f["filename"]
        }
    raise AssertionError("the call did not fail")


def test_a_failure_while_verifying_shows_neither_key_nor_signing_secret(client, issued_key):
    # given an account with a signing secret, and a fault deep inside the signature check
    SigningSecretFactory(account=issued_key.api_key.account, secret=SECRET)
    body = samples.encode(samples.event("ConversationClosed"))

    def deliver():
        with mock.patch("integrations.dixa.signature.hmac") as fake_hmac:
            fake_hmac.compare_digest.side_effect = RuntimeError("fault")
            client.post(
                "/api/dixa/relay",
                data=body,
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {issued_key.plaintext}",
                HTTP_X_DIXA_SIGNATURE=f"t={int(time.time() * 1000)},v1={'0' * 64}",
            )

    # when Django reports the error
    frames = frames_of(deliver)
    # then the report has the frames and their variables, but not the secrets
    assert frames["_verify"]["secrets"] == HIDDEN
    assert frames["verify"]["secrets"] == frames["verify"]["secret"] == HIDDEN
    assert "body" in frames["_verify"]
    leaks = {fn: v for fn, v in frames.items() if SECRET in repr(v)}
    assert not leaks, leaks
    leaks = {fn: v for fn, v in frames.items() if issued_key.plaintext in repr(v)}
    assert not leaks, leaks


def test_a_failure_while_sending_to_npstoday_does_not_show_its_key():
    from integrations.clients import npstoday

    def send():
        with mock.patch.object(npstoday, "client", side_effect=RuntimeError("fault")):
            npstoday.add_campaign_member(
                api_key="nps-secret-key", campaign_id=1, body={}, idempotency_key="k"
            )

    frames = frames_of(send)
    assert frames["add_campaign_member"]["api_key"] == HIDDEN
    assert "nps-secret-key" not in repr(frames)

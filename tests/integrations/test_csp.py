"""Every page carries a Content-Security-Policy: scripts, images and frames from the platform
only, no inline script; the card's Test page alone lets its sandboxed preview run the card's
scripts and frame the Feedback App. (The browser tests record every refusal as an error.)"""

import pytest
from django.urls import reverse

from pgap.models import CardSetup
from tests.integrations.factories import AccountFactory

pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


def test_pages_allow_only_the_platforms_own_scripts_and_frames(client):
    policy = directives(client.get(reverse("admin:login")))
    assert policy["script-src"] == ["'self'"]
    assert policy["frame-src"] == ["'self'"] and policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'self'"]


def test_the_card_test_page_lets_its_preview_run(admin_client, settings):
    settings.NPSTODAY_FEEDBACK_APP_URL = "https://feedback.example.net/app?x=1"
    setup = CardSetup.objects.create(account=AccountFactory())
    page = admin_client.get(reverse("admin:pgap_cardsetup_test", args=[setup.pk]))
    assert page.status_code == 200
    policy = directives(page)
    assert policy["script-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["frame-src"] == ["'self'", "https://feedback.example.net"]
    # the change page next to it keeps the strict policy
    change = admin_client.get(reverse("admin:pgap_cardsetup_change", args=[setup.pk]))
    assert directives(change)["script-src"] == ["'self'"]

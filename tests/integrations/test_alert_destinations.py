"""Alert webhooks in production: https to public hosts only, checked on save and on send."""

import pytest
from django.urls import reverse

from integrations.alerts.destinations import webhook_refusal
from integrations.alerts.models import AlertSettings
from integrations.alerts.notify import alert_test_send
from tests.integrations.factories import AccountFactory
from tests.integrations.test_alerts import (  # noqa: F401 - chat_webhook is a fixture
    alert_settings_form,
    chat_webhook,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def production_rules(settings):
    settings.ALERT_WEBHOOK_HTTPS_ONLY = True
    settings.ALERT_WEBHOOK_INTERNAL_ALLOWED = False


@pytest.mark.parametrize(
    ("url", "refusal"),
    [
        ("http://93.184.215.14/hook", "must be https"),
        ("https://127.0.0.1/hook", "internal address (127.0.0.1)"),
        ("https://localhost:8443/hook", "internal address"),
        ("https://10.1.2.3/hook", "internal address (10.1.2.3)"),
        ("https://169.254.169.254/latest/meta-data", "internal address (169.254.169.254)"),
        ("https://[::1]/hook", "internal address (::1)"),
        ("https://[fd00::1]/hook", "internal address (fd00::1)"),
        ("https://no-such-host.invalid/hook", "does not resolve"),
    ],
)
def test_internal_or_plain_http_destinations_are_refused(production_rules, url, refusal):
    assert refusal in webhook_refusal(url)


def test_a_public_https_address_is_allowed(production_rules):
    assert webhook_refusal("https://93.184.215.14/services/T1/B2") is None


def test_on_a_laptop_a_local_chat_server_is_allowed():
    assert webhook_refusal("http://127.0.0.1:9000/hook") is None


def test_the_admin_refuses_an_internal_webhook_with_the_reason(admin_client, production_rules):
    account = AccountFactory()
    response = admin_client.post(
        reverse("admin:integrations_alertsettings_add"),
        alert_settings_form(account, webhook_url="https://169.254.169.254/latest/meta-data"),
    )
    assert response.status_code == 200
    assert "is an internal address (169.254.169.254)" in response.content.decode()
    assert not AlertSettings.objects.exists()


def test_a_webhook_that_became_internal_is_not_posted_to(
    chat_webhook,  # noqa: F811
    settings,
):
    # given a channel saved while internal addresses were allowed
    channel = AlertSettings.objects.create(
        account=AccountFactory(), webhook_url=f"{chat_webhook.url}/hooks/T1"
    )
    # when the rules forbid them and a notice goes out
    settings.ALERT_WEBHOOK_INTERNAL_ALLOWED = False
    errors = alert_test_send(channel=channel)
    # then nothing was posted, and the reason is kept
    assert chat_webhook.messages() == []
    assert any("not sent" in e and "internal address (127.0.0.1)" in e for e in errors)

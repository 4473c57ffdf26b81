"""Secrets stay masked on the pages of who may only view them (a Relay operator): the
last four characters, as editors see them under the form's field, never the whole value."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from integrations.alerts.models import AlertSettings
from integrations.models import DixaConnection
from integrations.services.roles import ACCOUNT_ADMIN, OPERATOR, roles_sync
from tests.integrations.factories import SigningSecretFactory
from tests.ivr.factories import IvrMappingFactory
from tests.pgap.factories import PgapSetupFactory

pytestmark = pytest.mark.django_db
NPS_KEY = "nps-secret-key-9f3a"
DIXA_TOKEN = "dixa-secret-token-7c1e"
WEBHOOK = "https://hooks.example.com/secret-path-4b2d"


@pytest.fixture
def secrets_of_one_account():
    mapping = IvrMappingFactory(dixa_api_token=DIXA_TOKEN)
    account = mapping.account
    account.npstoday_api_key = NPS_KEY
    account.save()
    signing = SigningSecretFactory(account=account)
    pages = {
        signing.secret: reverse("admin:integrations_account_change", args=[account.pk]),
        NPS_KEY: reverse("admin:integrations_account_change", args=[account.pk]),
        DIXA_TOKEN: reverse("admin:ivr_ivrmapping_change", args=[mapping.pk]),
    }
    setup = PgapSetupFactory(account=account, dixa_api_token=DIXA_TOKEN + "-pgap")
    pages[setup.dixa_api_token] = reverse("admin:pgap_pgapsetup_change", args=[setup.pk])
    connection = DixaConnection.objects.create(account=account, api_token=DIXA_TOKEN + "-hook")
    pages[connection.api_token] = reverse(
        "admin:integrations_dixaconnection_change", args=[connection.pk]
    )
    alerts = AlertSettings.objects.create(account=account, webhook_url=WEBHOOK)
    pages[WEBHOOK] = reverse("admin:integrations_alertsettings_change", args=[alerts.pk])
    return account, pages


def member(django_user_model, account, role: str):
    roles_sync()
    user = django_user_model.objects.create_user(f"user-{role}", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    account.members.add(user)
    return user


@pytest.mark.parametrize("role", [OPERATOR, ACCOUNT_ADMIN])
def test_no_page_shows_a_secret_whole(client, django_user_model, secrets_of_one_account, role):
    account, pages = secrets_of_one_account
    client.force_login(member(django_user_model, account, role))
    for secret, url in pages.items():
        page = client.get(url)
        assert page.status_code == 200, url
        text = page.content.decode()
        assert secret not in text, f"{url} shows a secret whole to a {role}"
        assert "••••" + secret[-4:] in text, f"{url} does not show the secret's mask"


def test_an_operator_sees_the_secrets_as_read_only_masks(
    client, django_user_model, secrets_of_one_account
):
    account, pages = secrets_of_one_account
    client.force_login(member(django_user_model, account, OPERATOR))
    page = client.get(pages[NPS_KEY])
    # a read-only line labelled as the field, holding its mask, and no input for it
    readonly = page.context["adminform"].readonly_fields
    assert "npstoday_key" in readonly  # the list's own masked column
    text = page.content.decode()
    assert 'name="npstoday_api_key"' not in text
    # and the signing secret once, in the inline's own "stored secret" column
    [signing] = [s for s, url in pages.items() if url == pages[NPS_KEY] and s != NPS_KEY]
    assert text.count("••••" + signing[-4:]) == 1

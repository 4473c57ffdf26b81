from datetime import timedelta
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from ivr.models import IvrMapping, NpsTodayDelivery, SurveyTrigger
from tests.integrations.factories import AccountFactory
from tests.ivr.factories import QUEUE_ID, IvrMappingFactory
from tests.ivr.helpers import stored_event

pytestmark = pytest.mark.django_db
ADD = reverse("admin:ivr_ivrmapping_add")


@pytest.fixture(autouse=True)
def _no_publish():
    with mock.patch("ivr.tasks.deliver_surveys.apply_async"):
        yield


def test_campaigns_are_offered_from_npstoday(admin_client, fake_npstoday):
    AccountFactory(name="Acme", npstoday_api_key="nps-test-key")
    page = admin_client.get(ADD).content.decode()
    assert "7232 · Relationsmåling Q1" in page
    assert (
        fake_npstoday.recorded("/campaigns/")[0].headers["authorization"] == "apikey nps-test-key"
    )


def test_queues_are_offered_from_dixa_with_the_mappings_token(
    admin_client, fake_npstoday, fake_dixa
):
    mapping = IvrMappingFactory()
    page = admin_client.get(
        reverse("admin:ivr_ivrmapping_change", args=[mapping.pk])
    ).content.decode()
    assert f"Mail - General · {QUEUE_ID}" in page
    assert fake_dixa.recorded("/v1/queues")[0].headers["authorization"] == "dixa-test-token"


def test_unreachable_apis_are_named_and_ids_can_be_typed(admin_client, settings):
    settings.NPSTODAY_API_URL = "http://127.0.0.1:1"
    settings.DIXA_API_URL = "http://127.0.0.1:1"
    account = AccountFactory(npstoday_api_key="nps-test-key")
    mapping = IvrMappingFactory(account=account)
    page = admin_client.get(reverse("admin:ivr_ivrmapping_change", args=[mapping.pk]))
    html = page.content.decode()
    assert "Could not load choices from nps.today" in html
    assert "Type the campaign id" in html and "Type the queue id" in html
    response = admin_client.post(
        ADD,
        {
            "account": account.pk,
            "name": "Typed",
            "enabled": "on",
            "campaign_id": 9999,
            "queue_id": "typed-queue",
            "dixa_api_token": "tok",
            "delay_minutes": 0,
            "quarantine_days": 0,
            "sample_percent": 100,
            "once_per_conversation": "on",
            "excluded_tags": "spam, test",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    created = IvrMapping.objects.get(name="Typed")
    assert (created.campaign_id, created.queue_id, created.excluded_tags) == (
        9999,
        "typed-queue",
        ["spam", "test"],
    )
    assert created.dixa_api_token == "tok"


def test_choosing_an_offered_campaign_saves_its_name(admin_client, fake_npstoday):
    account = AccountFactory(npstoday_api_key="nps-test-key")
    response = admin_client.post(
        ADD,
        {
            "account": account.pk,
            "name": "Chosen",
            "enabled": "on",
            "campaign_id": 7232,
            "queue_id": QUEUE_ID,
            "dixa_api_token": "dixa-test-token",
            "delay_minutes": 0,
            "quarantine_days": 0,
            "sample_percent": 100,
            "channels": ["EMAIL", "WIDGET_CHAT"],
        },
    )
    assert response.status_code == 302
    mapping = IvrMapping.objects.get(name="Chosen")
    assert mapping.campaign_name == "Relationsmåling Q1"
    assert mapping.channels == ["EMAIL", "WIDGET_CHAT"]


def test_test_connection_reports_both_keys(admin_client, fake_npstoday, fake_dixa):
    good = IvrMappingFactory(name="Good")
    bad = IvrMappingFactory(name="Bad", dixa_api_token="wrong", campaign_id=1)
    response = admin_client.post(
        reverse("admin:ivr_ivrmapping_changelist"),
        {"action": "test_connection", "_selected_action": [good.pk, bad.pk]},
        follow=True,
    )
    text = " | ".join(str(m) for m in response.context["messages"])
    assert "Good: nps.today key OK" in text and "Good: Dixa token OK" in text
    assert "Bad: nps.today key failed: campaign 1 is not among" in text
    assert "Bad: Dixa token failed" in text and "401" in text


def test_mapping_list_shows_delivered_and_failed_in_the_last_24_hours(admin_client):
    mapping = IvrMappingFactory(name="Counted", once_per_conversation=False)
    from integrations.services.processing import inbound_event_process

    for _ in range(3):
        inbound_event_process(event_pk=stored_event(mapping.account).pk)
    now = timezone.now()
    triggers = list(SurveyTrigger.objects.order_by("pk"))
    SurveyTrigger.objects.filter(pk=triggers[0].pk).update(status="delivered", finished_at=now)
    SurveyTrigger.objects.filter(pk=triggers[1].pk).update(status="failed", finished_at=now)
    SurveyTrigger.objects.filter(pk=triggers[2].pk).update(
        status="delivered", finished_at=now - timedelta(days=2)
    )
    listed = admin_client.get(reverse("admin:ivr_ivrmapping_changelist")).context["cl"].result_list
    row = next(m for m in listed if m.pk == mapping.pk)
    assert (row.delivered_24h, row.failed_24h) == (1, 1)


def test_staff_see_only_their_accounts_mappings_and_triggers(client, staff_user_factory):
    mine, theirs = IvrMappingFactory(name="Mine"), IvrMappingFactory(name="Theirs")
    user = staff_user_factory(
        "ann", mine.account, perms=["view_ivrmapping", "change_ivrmapping", "view_surveytrigger"]
    )
    client.force_login(user)
    page = client.get(reverse("admin:ivr_ivrmapping_changelist")).content.decode()
    assert "Mine" in page and "Theirs" not in page
    response = client.get(reverse("admin:ivr_ivrmapping_change", args=[theirs.pk]))
    assert response.status_code == 302


def test_trigger_page_shows_attempts_and_the_actions_work(admin_client):
    from integrations.services.processing import inbound_event_process

    mapping = IvrMappingFactory()
    inbound_event_process(event_pk=stored_event(mapping.account).pk)
    trigger = SurveyTrigger.objects.get()
    trigger.attempts.create(
        number=1,
        request_url="https://x",
        request_body={},
        outcome="retry",
        response_status_code=503,
    )
    page = admin_client.get(reverse("admin:ivr_surveytrigger_change", args=[trigger.pk]))
    assert "Failed, will retry" in page.content.decode()
    changelist = reverse("admin:ivr_surveytrigger_changelist")
    admin_client.post(changelist, {"action": "cancel", "_selected_action": [trigger.pk]})
    assert SurveyTrigger.objects.get().status == "cancelled"
    admin_client.post(changelist, {"action": "resend", "_selected_action": [trigger.pk]})
    assert SurveyTrigger.objects.get().status == "pending"


def test_bulk_resend_of_dead_letters_since_a_time(admin_client):
    from integrations.services.processing import inbound_event_process

    mapping = IvrMappingFactory(once_per_conversation=False)
    for _ in range(2):
        inbound_event_process(event_pk=stored_event(mapping.account).pk)
    SurveyTrigger.objects.update(status="failed", finished_at=timezone.now())
    url = reverse("admin:ivr_surveytrigger_resend_since")
    assert "2 dead letter(s)" in admin_client.get(url).content.decode()
    since = timezone.now() - timedelta(hours=1)
    response = admin_client.post(
        url, {"since_0": since.strftime("%Y-%m-%d"), "since_1": since.strftime("%H:%M:%S")}
    )
    assert response.status_code == 302
    assert SurveyTrigger.objects.filter(status="pending").count() == 2


def test_disabled_key_is_shown_with_its_reason_and_can_be_reenabled(admin_client):
    mapping = IvrMappingFactory()
    NpsTodayDelivery.objects.create(
        account=mapping.account, disabled_at=timezone.now(), disabled_reason="25 failed in a row"
    )
    listing = admin_client.get(reverse("admin:ivr_npstodaydelivery_changelist")).content.decode()
    assert "25 failed in a row" in listing
    admin_client.post(
        reverse("admin:ivr_npstodaydelivery_changelist"),
        {"action": "reenable", "_selected_action": [mapping.account_id]},
    )
    assert NpsTodayDelivery.objects.get(pk=mapping.account_id).disabled_at is None


def test_a_campaign_of_another_accounts_npstoday_is_refused(admin_client, fake_npstoday):
    # given two accounts whose nps.today keys see different campaigns
    fake_npstoday.api_keys.add("nps-beta-key")
    fake_npstoday.campaigns_by_key["nps-beta-key"] = {8000: "Beta NPS"}
    acme = AccountFactory(name="Acme", npstoday_api_key="nps-test-key")
    AccountFactory(name="Beta", npstoday_api_key="nps-beta-key")
    # when a mapping of Acme's is pointed at Beta's campaign (both are offered)
    response = admin_client.post(
        ADD,
        {
            "account": acme.pk,
            "name": "Wrong",
            "enabled": "on",
            "campaign_id": 8000,
            "queue_id": QUEUE_ID,
            "delay_minutes": 0,
            "quarantine_days": 0,
            "sample_percent": 100,
        },
    )
    # then the form refuses it
    assert response.status_code == 200
    assert "campaign 8000 is not in Acme&#x27;s nps.today" in response.content.decode()
    assert not IvrMapping.objects.filter(name="Wrong").exists()


def mapping_form(account, **changes) -> dict:
    return {
        "account": account.pk,
        "name": "Typed",
        "enabled": "on",
        "campaign_id": 9999,
        "queue_id": "typed-queue",
        "delay_minutes": 0,
        "quarantine_days": 0,
        "sample_percent": 100,
        **changes,
    }


@pytest.mark.parametrize("token", ["tok\r\nX-Injected: 1", "tok\x1ben", "tøken", "to ken"])
def test_the_mapping_form_refuses_a_dixa_token_headers_cannot_carry(admin_client, settings, token):
    settings.NPSTODAY_API_URL = settings.DIXA_API_URL = "http://127.0.0.1:1"
    account = AccountFactory()
    response = admin_client.post(ADD, mapping_form(account, dixa_api_token=token))
    assert response.status_code == 200
    assert "HTTP headers cannot carry" in response.content.decode()
    assert not IvrMapping.objects.exists()


def test_the_mapping_form_strips_whitespace_around_a_pasted_token(admin_client, settings):
    settings.NPSTODAY_API_URL = settings.DIXA_API_URL = "http://127.0.0.1:1"
    account = AccountFactory()
    response = admin_client.post(ADD, mapping_form(account, dixa_api_token=" dixa-pasted\n"))
    assert response.status_code == 302
    assert IvrMapping.objects.get().dixa_api_token == "dixa-pasted"

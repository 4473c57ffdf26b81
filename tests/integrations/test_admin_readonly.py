"""Records of what happened (inbound events, rejected deliveries, surveys and their tries)
are read-only in the admin, for everyone; their actions still work for those allowed."""

import re
from unittest import mock

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from integrations.models import Account, ApiKey, InboundEvent, RejectedDelivery
from ivr.models import SurveyTrigger
from tests.integrations.test_admin_scoping import admin_url, make_tenant

pytestmark = pytest.mark.django_db
RECORDS = (InboundEvent, RejectedDelivery, SurveyTrigger)


@pytest.fixture
def tenant(settings):
    settings.NPSTODAY_API_URL = "http://127.0.0.1:1"
    return make_tenant("Mine")


@pytest.fixture(autouse=True)
def _no_publish():
    with mock.patch("integrations.services.queueing.enqueue", return_value=True):
        yield


def staff_client(client, django_user_model, account, *codenames):
    user = django_user_model.objects.create_user("ops", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    account.members.add(user)
    client.force_login(user)
    return client


def actions_of(response) -> set[str]:
    form = response.context["action_form"]
    if form is None:  # a list without actions
        return set()
    return {name for name, _ in form.fields["action"].choices if name}


@pytest.mark.parametrize("model", RECORDS, ids=lambda m: m.__name__)
def test_records_offer_no_save_and_no_delete_even_to_a_superuser(admin_client, tenant, model):
    record = tenant[model]
    page = admin_client.get(admin_url(model, "change", record.pk))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="_save"' not in html and 'name="_continue"' not in html
    assert admin_client.get(admin_url(model, "delete", record.pk)).status_code == 403
    assert (
        admin_client.post(admin_url(model, "delete", record.pk), {"post": "yes"}).status_code == 403
    )
    assert "delete_selected" not in actions_of(admin_client.get(admin_url(model, "changelist")))
    assert model.objects.filter(pk=record.pk).exists()


def test_a_surveys_member_body_cannot_be_changed_in_the_admin(admin_client, tenant):
    trigger = tenant[SurveyTrigger]
    response = admin_client.post(
        admin_url(SurveyTrigger, "change", trigger.pk),
        {"payload": '{"respondent": {"emailAddress": "attacker@example.com"}}', "_save": "1"},
    )
    assert response.status_code == 403
    trigger.refresh_from_db()
    assert trigger.payload == {"respondent": {"firstName": "Mine"}}


def test_a_survey_page_shows_its_member_body_once_read_only(admin_client, tenant):
    trigger = tenant[SurveyTrigger]
    html = admin_client.get(admin_url(SurveyTrigger, "change", trigger.pk)).content.decode()
    assert 'name="payload"' not in html
    assert "Campaign member for nps.today" in html and "firstName" in html


def test_viewers_cannot_run_the_survey_and_event_actions(client, django_user_model, tenant):
    viewer = staff_client(
        client, django_user_model, tenant[Account], "view_surveytrigger", "view_inboundevent"
    )
    survey_actions = actions_of(viewer.get(admin_url(SurveyTrigger, "changelist")))
    assert not survey_actions & {"retry_now", "cancel", "resend"}
    assert not actions_of(viewer.get(admin_url(InboundEvent, "changelist")))
    trigger = tenant[SurveyTrigger]
    viewer.post(
        admin_url(SurveyTrigger, "changelist"),
        {"action": "resend", "confirmed": "yes", "_selected_action": [trigger.pk]},
    )
    assert SurveyTrigger.objects.get(pk=trigger.pk).status == SurveyTrigger.Status.FAILED
    assert viewer.get(reverse("admin:ivr_surveytrigger_resend_since")).status_code == 302


def test_operators_with_change_permission_run_the_actions_on_read_only_records(
    client, django_user_model, tenant
):
    operator = staff_client(
        client, django_user_model, tenant[Account], "change_surveytrigger", "change_inboundevent"
    )
    assert {"retry_now", "cancel", "resend"} <= actions_of(
        operator.get(admin_url(SurveyTrigger, "changelist"))
    )
    assert "reprocess" in actions_of(operator.get(admin_url(InboundEvent, "changelist")))
    trigger = tenant[SurveyTrigger]
    operator.post(
        admin_url(SurveyTrigger, "changelist"),
        {"action": "resend", "confirmed": "yes", "_selected_action": [trigger.pk]},
    )
    assert SurveyTrigger.objects.get(pk=trigger.pk).status == SurveyTrigger.Status.PENDING
    page = operator.get(admin_url(SurveyTrigger, "change", trigger.pk)).content.decode()
    assert 'name="_save"' not in page
    assert operator.get(reverse("admin:ivr_surveytrigger_resend_since")).status_code == 200


def test_an_api_key_is_revoked_never_deleted_even_by_a_superuser(admin_client, issued_key):
    key = issued_key.api_key
    assert admin_client.get(admin_url(ApiKey, "delete", key.pk)).status_code == 403
    assert (
        admin_client.post(admin_url(ApiKey, "delete", key.pk), {"post": "yes"}).status_code == 403
    )
    actions = actions_of(admin_client.get(admin_url(ApiKey, "changelist")))
    assert "delete_selected" not in actions and "revoke" in actions
    assert ApiKey.objects.filter(pk=key.pk).exists()


@pytest.mark.parametrize(
    "status, shown",
    [
        ("failed", "— (no further try)"),
        ("delivered", "— (no further try)"),
        ("held", "when the account&#x27;s nps.today key is enabled again"),
        ("pending", "2026-11-22 13:00:00"),
    ],
)
def test_a_surveys_next_try_is_shown_only_while_one_is_to_come(admin_client, status, shown):
    from datetime import UTC, datetime

    from tests.ivr.factories import SurveyTriggerFactory

    trigger = SurveyTriggerFactory(
        status=status, next_attempt_at=datetime(2026, 11, 22, 13, tzinfo=UTC)
    )
    html = admin_client.get(admin_url(SurveyTrigger, "change", trigger.pk)).content.decode()
    value = re.search(r'Next try at:</label>\s*<div class="readonly">(.*?)</div>', html, re.S)
    assert shown in value[1]

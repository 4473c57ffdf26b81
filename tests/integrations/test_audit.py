"""The audit trail: every action and every save in the admin leaves an entry (who, when,
what, result) shown on the object and in one list, which nobody can change."""

from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from integrations.audit.models import AuditEntry
from integrations.models import Account, ApiKey, InboundEvent, SigningSecret
from ivr.models import IvrMapping, NpsTodayDelivery, SurveyTrigger
from tests.integrations.test_admin_scoping import admin_url, make_tenant, our_admins

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_publish():
    with mock.patch("integrations.services.queueing.enqueue", return_value=True):
        yield


@pytest.fixture
def tenant(settings):
    settings.NPSTODAY_API_URL = "http://127.0.0.1:1"
    settings.DIXA_API_URL = "http://127.0.0.1:1"
    return make_tenant("Mine")


def run_action(client, model, action: str, *pks) -> None:
    response = client.post(
        admin_url(model, "changelist"),
        {"action": action, "confirmed": "yes", "_selected_action": list(pks)},
    )
    assert response.status_code == 302, response.content[:500]


@pytest.mark.parametrize(
    ("action", "status", "name", "result"),
    [
        ("resend", SurveyTrigger.Status.FAILED, "survey resend", "1 resent"),
        ("cancel", SurveyTrigger.Status.PENDING, "survey cancel", "1 cancelled"),
        ("retry_now", SurveyTrigger.Status.PENDING, "survey retry now", "1 queued now"),
        ("cancel", SurveyTrigger.Status.DELIVERED, "survey cancel", "0 cancelled"),
    ],
)
def test_each_survey_action_is_audited_with_its_result(
    admin_client, admin_user, tenant, action, status, name, result
):
    # given a survey in the state the action is for (or, last, one it does not apply to)
    trigger = tenant[SurveyTrigger]
    SurveyTrigger.objects.filter(pk=trigger.pk).update(status=status)
    # when the action is run on it
    run_action(admin_client, SurveyTrigger, action, trigger.pk)
    # then one entry says who, what and what came of it, naming the survey
    entry = AuditEntry.objects.get()
    assert entry.actor == admin_user and entry.actor_label == admin_user.username
    assert entry.action == name and entry.result.startswith(result)
    assert entry.account_id == tenant[Account].pk
    assert list(entry.targets.values_list("object_id", flat=True)) == [str(trigger.pk)]
    # and the survey's page shows it
    page = admin_client.get(admin_url(SurveyTrigger, "change", trigger.pk)).content.decode()
    assert "Audit trail" in page and name in page and result in page


def test_resending_dead_letters_since_a_time_is_audited(admin_client, tenant):
    trigger = tenant[SurveyTrigger]
    SurveyTrigger.objects.filter(pk=trigger.pk).update(finished_at=timezone.now())
    since = timezone.now() - timedelta(hours=1)
    admin_client.post(
        reverse("admin:ivr_surveytrigger_resend_since"),
        {
            "since_0": since.strftime("%Y-%m-%d"),
            "since_1": since.strftime("%H:%M:%S"),
            "confirmed": "yes",  # the second step: the first only shows how many
        },
    )
    entry = AuditEntry.objects.get(action="survey resend since")
    assert entry.result == "1 resent"
    assert list(entry.targets.values_list("object_id", flat=True)) == [str(trigger.pk)]


def test_reprocess_revoke_and_reenable_are_audited(admin_client, tenant):
    NpsTodayDelivery.objects.filter(pk=tenant[Account].pk).update(disabled_at=timezone.now())
    run_action(admin_client, InboundEvent, "reprocess", tenant[InboundEvent].pk)
    run_action(admin_client, InboundEvent, "reprocess_survey", tenant[InboundEvent].pk)
    run_action(admin_client, ApiKey, "revoke", tenant[ApiKey].pk)
    run_action(admin_client, NpsTodayDelivery, "reenable", tenant[Account].pk)
    results = dict(AuditEntry.objects.values_list("summary", "result"))
    assert results == {
        "Reprocess 1 selected event(s) through every handler": "1 queued for reprocessing",
        "Reprocess 1 selected event(s) through the survey handler": "1 queued for the survey "
        "handler",
        "Revoke 1 selected API key(s)": "1 revoked (the others were revoked already)",
        f"Re-enable nps.today delivery for {tenant[Account]}": "re-enabled; 0 held survey(s) "
        "released",
    }


def test_a_mapping_change_and_a_secret_added_on_the_account_are_audited(admin_client, tenant):
    # when an admin renames the mapping
    mapping = tenant[IvrMapping]
    response = admin_client.post(
        admin_url(IvrMapping, "change", mapping.pk),
        {
            "account": mapping.account_id,
            "name": "Renamed",
            "enabled": "on",
            "queue_id": mapping.queue_id,
            "campaign_id": mapping.campaign_id,
            "delay_minutes": 0,
            "quarantine_days": 0,
            "once_per_conversation": "on",
            "sample_percent": 100,
            "excluded_tags": "[]",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    mapping.refresh_from_db()
    assert mapping.name == "Renamed"
    # and adds a signing secret to the account
    account = tenant[Account]
    admin_client.post(
        admin_url(Account, "change", account.pk),
        {
            "name": account.name,
            "npstoday_api_key": "",
            "signature_tolerance_seconds": 300,
            "signing_secrets-TOTAL_FORMS": 1,
            "signing_secrets-INITIAL_FORMS": 0,
            "signing_secrets-0-label": "rotated",
            "signing_secrets-0-secret": "cd" * 16,
            "signing_secrets-0-is_active": "on",
        },
    )
    assert SigningSecret.objects.filter(label="rotated").exists()
    # then both are in the trail, with what changed (never a secret's value)
    change = AuditEntry.objects.get(action="IVR mapping change")
    assert "Changed Name" in change.summary and change.result == "saved"
    added = AuditEntry.objects.get(action="account change")
    assert "Added signing secret" in added.summary and "cd" * 16 not in added.summary


def test_the_audit_trail_is_read_only_for_everyone(admin_client, tenant, admin_user):
    run_action(admin_client, SurveyTrigger, "resend", tenant[SurveyTrigger].pk)
    entry = AuditEntry.objects.get()
    listing = admin_client.get(admin_url(AuditEntry, "changelist"))
    assert listing.status_code == 200 and "survey resend" in listing.content.decode()
    assert "delete_selected" not in listing.content.decode()
    assert admin_client.get(admin_url(AuditEntry, "add")).status_code == 403
    page = admin_client.get(admin_url(AuditEntry, "change", entry.pk)).content.decode()
    assert 'name="_save"' not in page
    assert admin_client.post(admin_url(AuditEntry, "change", entry.pk), {}).status_code == 403
    assert (
        admin_client.post(admin_url(AuditEntry, "delete", entry.pk), {"post": "yes"}).status_code
        == 403
    )
    assert AuditEntry.objects.filter(pk=entry.pk, action="survey resend").exists()


def test_a_viewer_cannot_reenable_a_key(client, django_user_model, tenant):
    # given a staff user who may only view the delivery policy
    user = django_user_model.objects.create_user("vic", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename="view_npstodaydelivery"))
    tenant[Account].members.add(user)
    client.force_login(user)
    NpsTodayDelivery.objects.filter(pk=tenant[Account].pk).update(disabled_at=timezone.now())
    # when they try the action
    client.post(
        admin_url(NpsTodayDelivery, "changelist"),
        {"action": "reenable", "confirmed": "yes", "_selected_action": [tenant[Account].pk]},
    )
    # then nothing changed and nothing was audited
    assert NpsTodayDelivery.objects.get(pk=tenant[Account].pk).disabled_at is not None
    assert not AuditEntry.objects.exists()


def test_attempts_are_listed_in_the_order_they_were_made_after_a_resend(admin_client, tenant):
    from ivr.models import DeliveryAttempt

    trigger = tenant[SurveyTrigger]  # its first try (number 1) failed
    DeliveryAttempt.objects.create(
        trigger=trigger,
        number=2,
        request_url="https://nps.test/respondent",
        request_body={},
        response_body="second try before the resend",
    )
    later = DeliveryAttempt.objects.create(
        trigger=trigger,
        number=1,  # numbered from 1 again after the resend
        request_url="https://nps.test/respondent",
        request_body={},
        response_body="after the resend",
    )
    DeliveryAttempt.objects.filter(pk=later.pk).update(
        created_at=timezone.now() + timedelta(minutes=5)
    )
    page = admin_client.get(admin_url(SurveyTrigger, "change", trigger.pk)).content.decode()
    assert (
        page.index("Mine answer")
        < page.index("second try before the resend")
        < page.index("after the resend")
    )


def test_what_apply_config_sets_is_audited_as_the_commands(tmp_path, settings):
    settings.NPSTODAY_API_URL = settings.DIXA_API_URL = "http://127.0.0.1:1"
    from django.core.management import call_command

    from tests.ivr.test_config import CONFIG

    config = CONFIG.replace(
        "    npstoday_max_attempts: 3\n",
        "    npstoday_max_attempts: 3\n    signing_secrets: [abcd0123]\n    api_keys:\n"
        "      - name: dixa\n",
    )
    path = tmp_path / "relay.yaml"
    path.write_text(config)
    call_command("apply_config", str(path))
    call_command("apply_config", str(path))  # unchanged: nothing more to audit
    entries = AuditEntry.objects.order_by("id")
    assert [(e.actor_label, e.action) for e in entries] == [
        ("apply_config", "signing secret add"),
        ("apply_config", "API key add"),
        ("apply_config", "IVR mapping add"),
    ]
    assert all(e.actor is None and e.account.name == "Acme" for e in entries)
    assert "abcd0123" not in " ".join(e.summary for e in entries)


# --- actions run from a list filtered by the state they change -------------------------------
# Django hands an action the list's queryset: the selection *and* the list's filters. An action
# that changes what a filter looks at (a survey's status, an event's outcome) used to empty its
# own queryset before auditing it: no entry named the rows, and "Resend 0 selected".


def _failed_survey(tenant):
    return tenant[SurveyTrigger]  # a dead letter


def _pending_survey(tenant):
    trigger = tenant[SurveyTrigger]
    SurveyTrigger.objects.filter(pk=trigger.pk).update(status=SurveyTrigger.Status.PENDING)
    return trigger


def _skipped_event(tenant):
    event = tenant[InboundEvent]
    InboundEvent.objects.filter(pk=event.pk).update(outcome=InboundEvent.Outcome.SKIPPED)
    return event


def _failed_prediction(tenant):
    from tests.pgap.factories import AgentPredictionFactory

    return AgentPredictionFactory(mapping=tenant[IvrMapping], status="failed", score=None)


def _active_subscription(tenant):
    from pgap.models import ResponseSubscription
    from pgap.services.hooks import response_hook_create

    hook = response_hook_create(account=tenant[Account]).hook
    # No subscription id yet: removing it asks nps.today nothing.
    return ResponseSubscription.objects.create(account=tenant[Account], hook=hook, campaign_id=7)


FILTERED = {
    "survey resend": (_failed_survey, "status__exact=failed", "resend", "1 resent"),
    "survey cancel": (_pending_survey, "status__exact=pending", "cancel", "1 cancelled"),
    "event reprocess": (_skipped_event, "outcome__exact=skipped", "reprocess", "1 queued"),
    "event reprocess (one handler)": (
        _skipped_event,
        "outcome__exact=skipped",
        "reprocess_survey",
        "1 queued for the survey handler",
    ),
    "prediction read again": (_failed_prediction, "status__exact=failed", "read_again", "1 to"),
    "response subscription remove": (
        _active_subscription,
        "state__exact=active",
        "remove",
        "1 removed",
    ),
}


@pytest.mark.parametrize("select_across", ["0", "1"])
@pytest.mark.parametrize("case", FILTERED)
def test_an_action_run_from_a_list_filtered_by_the_state_it_changes_names_what_it_changed(
    admin_client, tenant, case, select_across
):
    # given a row in the state the action changes, listed under the filter for that state
    given, query, action, result = FILTERED[case]
    row = given(tenant)
    model = type(row)
    # when the action runs on it from that filtered list (its row ticked, or "select all")
    response = admin_client.post(
        f"{admin_url(model, 'changelist')}?{query}",
        {
            "action": action,
            "confirmed": "yes",
            "select_across": select_across,
            "index": "0",
            "_selected_action": [row.pk],
        },
    )
    assert response.status_code == 302, response.content[:500]
    # then its entry names the row and counts it as selected
    entry = AuditEntry.objects.get()
    assert list(entry.targets.values_list("object_id", flat=True)) == [str(row.pk)]
    assert entry.object_count == 1 and " 1 selected " in entry.summary
    assert entry.result.startswith(result)
    # and the row's own page shows it
    page = admin_client.get(admin_url(model, "change", row.pk)).content.decode()
    assert "None yet." not in page and entry.summary in page


def test_every_action_of_ours_runs_on_the_rows_selected_whatever_the_list_filters(rf, admin_user):
    # given a superuser, who is offered every action
    request = rf.get("/")
    request.user = admin_user
    # then every action of every admin of ours gets its selection pinned by primary key
    # (integrations.admin.confirm), so the pattern above cannot come back with a new action
    unpinned = [
        f"{model._meta.label}: {name}"
        for model, model_admin in our_admins()
        for name, (func, _, _) in model_admin.get_actions(request).items()
        if not getattr(func, "selection_pinned", False)
    ]
    assert unpinned == []

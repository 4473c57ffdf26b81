import re
from datetime import timedelta
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from ivr.models import IvrMapping, NpsTodayDelivery, SurveyTrigger
from tests.integrations.factories import AccountFactory
from tests.ivr.factories import IvrMappingFactory, SurveyTriggerFactory
from tests.ivr.helpers import stored_event

pytestmark = pytest.mark.django_db
ADD = reverse("admin:ivr_ivrmapping_add")


@pytest.fixture(autouse=True)
def _no_publish():
    with mock.patch("ivr.tasks.deliver_surveys.apply_async"):
        yield


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
    admin_client.post(
        changelist, {"action": "cancel", "confirmed": "yes", "_selected_action": [trigger.pk]}
    )
    assert SurveyTrigger.objects.get().status == "cancelled"
    admin_client.post(
        changelist, {"action": "resend", "confirmed": "yes", "_selected_action": [trigger.pk]}
    )
    assert SurveyTrigger.objects.get().status == "pending"


def test_bulk_resend_of_dead_letters_since_a_time(admin_client):
    from integrations.services.processing import inbound_event_process

    # given two dead letters
    mapping = IvrMappingFactory(once_per_conversation=False)
    for _ in range(2):
        inbound_event_process(event_pk=stored_event(mapping.account).pk)
    SurveyTrigger.objects.update(status="failed", finished_at=timezone.now())
    url = reverse("admin:ivr_surveytrigger_resend_since")
    assert "2 dead letters in the accounts you can see" in admin_client.get(url).content.decode()
    since = (timezone.now() - timedelta(hours=1)).replace(second=0, microsecond=0)
    typed = {"since_0": since.strftime("%Y-%m-%d"), "since_1": since.strftime("%H:%M")}
    moment = since.strftime("%Y-%m-%d %H:%M UTC")

    # when the form is submitted
    preview = admin_client.post(url, typed)

    # then the page says how many and since when, and nothing is resent yet
    assert preview.status_code == 200
    text = preview.content.decode()
    assert "<strong>2</strong> dead letters" in text and f"<strong>{moment}</strong>" in text
    assert 'value="Resend 2 dead letters"' in text
    assert SurveyTrigger.objects.filter(status="failed").count() == 2

    # when the page's own form confirms
    form = dict(re.findall(r'name="(since_0|since_1|confirmed)" value="([^"]*)"', text))
    done = admin_client.post(url, form, follow=True)

    # then both are resent, and the message names the moment
    assert done.redirect_chain[-1][0] == reverse("admin:ivr_surveytrigger_changelist")
    assert f"2 dead letters resent (failed since {moment})." in done.content.decode()
    assert SurveyTrigger.objects.filter(status="pending").count() == 2


def _resend_since(client, since) -> str:
    """The preview page of "Resend dead letters since" `since`."""
    url = reverse("admin:ivr_surveytrigger_resend_since")
    typed = {"since_0": since.strftime("%Y-%m-%d"), "since_1": since.strftime("%H:%M")}
    return client.post(url, typed).content.decode()


def _confirm(client, preview: str):
    url = reverse("admin:ivr_surveytrigger_resend_since")
    names = "since_0|since_1|confirmed|previewed"
    form = dict(re.findall(rf'name="({names})" value="([^"]*)"', preview))
    return client.post(url, form, follow=True)


def test_resend_since_resends_and_audits_the_same_rows_and_says_when_they_changed(admin_client):
    from integrations.audit.models import AuditEntry

    # given a dead letter, previewed
    shown = SurveyTriggerFactory(status="failed", finished_at=timezone.now())
    preview = _resend_since(admin_client, timezone.now() - timedelta(hours=1))
    # when another fails before the admin confirms
    late = SurveyTriggerFactory(mapping=shown.mapping, status="failed", finished_at=timezone.now())
    done = _confirm(admin_client, preview)
    # then both are resent, the message says the count changed, and the audit names both
    assert "2 dead letters resent" in done.content.decode()
    assert "1 were shown: the dead letters changed meanwhile." in done.content.decode()
    entry = AuditEntry.objects.get(action="survey resend since")
    assert entry.object_count == 2 and entry.result == "2 resent"
    assert set(SurveyTrigger.objects.values_list("status", flat=True)) == {"pending"}
    assert {shown.pk, late.pk} == set(SurveyTrigger.objects.values_list("pk", flat=True))


def test_resend_since_by_staff_of_one_account_leaves_anothers_dead_letters(
    client, staff_user_factory
):
    mine = SurveyTriggerFactory(status="failed", finished_at=timezone.now())
    theirs = SurveyTriggerFactory(status="failed", finished_at=timezone.now())
    perms = ["view_surveytrigger", "change_surveytrigger"]
    client.force_login(staff_user_factory("ann", mine.account, perms=perms))
    preview = _resend_since(client, timezone.now() - timedelta(hours=1))
    assert "<strong>1</strong> dead letter" in preview
    _confirm(client, preview)
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.status, theirs.status) == ("pending", "failed")


def test_an_events_page_links_the_survey_made_from_it(admin_client):
    from integrations.services.processing import inbound_event_process

    mapping = IvrMappingFactory()
    event = stored_event(mapping.account)
    inbound_event_process(event_pk=event.pk)
    survey = SurveyTrigger.objects.get(inbound_event=event)
    page = admin_client.get(reverse("admin:integrations_inboundevent_change", args=[event.pk]))
    survey_page = reverse("admin:ivr_surveytrigger_change", args=[survey.pk])
    assert f'<li><a href="{survey_page}">{survey}</a></li>' in page.content.decode()


def test_resend_since_with_nothing_to_resend_offers_no_button(admin_client):
    # given one dead letter that failed two days ago
    dead = SurveyTriggerFactory(status=SurveyTrigger.Status.FAILED)
    SurveyTrigger.objects.filter(pk=dead.pk).update(finished_at=timezone.now() - timedelta(days=2))
    url = reverse("admin:ivr_surveytrigger_resend_since")
    # when the moment chosen is yesterday at 16:00
    day = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%d")
    text = admin_client.post(url, {"since_0": day, "since_1": "16:00"}).content.decode()
    # then the page says none failed since then, and cannot resend
    assert "<strong>0</strong> dead letters" in text and f"{day} 16:00 UTC" in text
    assert 'value="Resend 0 dead letters" disabled' in text
    dead.refresh_from_db()
    assert dead.status == SurveyTrigger.Status.FAILED


def test_resend_since_refuses_a_us_date_and_says_the_format(admin_client):
    url = reverse("admin:ivr_surveytrigger_resend_since")
    page = admin_client.get(url).content.decode()
    assert "YYYY-MM-DD" in page and "HH:MM" in page
    refused = admin_client.post(url, {"since_0": "07/12/2026", "since_1": "4:00 PM"})
    assert "Enter a valid date." in refused.content.decode()
    assert "Enter a valid time." in refused.content.decode()


def test_resend_since_loads_the_admin_scripts_the_pickers_need(admin_client):
    # The calendar and clock (DateTimeShortcuts.js) call core.js's quickElement once the
    # page has loaded, and read their strings from jsi18n.
    page = admin_client.get(reverse("admin:ivr_surveytrigger_resend_since")).content.decode()
    scripts = re.findall(r'<script src="([^"]+)"', page)
    for needed in ("admin/js/core.js", "/jsi18n/", "admin/js/admin/DateTimeShortcuts.js"):
        assert any(src.endswith(needed) for src in scripts), (needed, scripts)


def test_disabled_key_is_shown_with_its_reason_and_can_be_reenabled(admin_client):
    mapping = IvrMappingFactory()
    NpsTodayDelivery.objects.create(
        account=mapping.account, disabled_at=timezone.now(), disabled_reason="25 failed in a row"
    )
    listing = admin_client.get(reverse("admin:ivr_npstodaydelivery_changelist")).content.decode()
    assert "25 failed in a row" in listing
    admin_client.post(
        reverse("admin:ivr_npstodaydelivery_changelist"),
        {"action": "reenable", "confirmed": "yes", "_selected_action": [mapping.account_id]},
    )
    assert NpsTodayDelivery.objects.get(pk=mapping.account_id).disabled_at is None


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


def test_the_mapping_form_refuses_a_tag_postgresql_cannot_store(admin_client, settings):
    # given a tag with a NUL in it (jsonb cannot hold one: the save was a 500)
    settings.NPSTODAY_API_URL = settings.DIXA_API_URL = "http://127.0.0.1:1"
    form = mapping_form(AccountFactory(), excluded_tags="spam, re\x00fund", save_anyway="on")

    # when
    response = admin_client.post(ADD, form)

    # then the form says why, and nothing is saved
    assert response.status_code == 200
    assert "Null characters are not allowed." in response.content.decode()
    assert not IvrMapping.objects.exists()


def test_the_mapping_form_strips_whitespace_around_a_pasted_token(admin_client, settings):
    settings.NPSTODAY_API_URL = settings.DIXA_API_URL = "http://127.0.0.1:1"
    account = AccountFactory()
    form = mapping_form(account, dixa_api_token=" dixa-pasted\n", save_anyway="on")
    response = admin_client.post(ADD, form)  # the APIs are down: saved without the check
    assert response.status_code == 302
    assert IvrMapping.objects.get().dixa_api_token == "dixa-pasted"


def test_a_bulk_action_says_how_many_it_will_change_before_it_runs(admin_client):
    dead = SurveyTriggerFactory(status=SurveyTrigger.Status.FAILED)
    delivered = SurveyTriggerFactory(mapping=dead.mapping, status=SurveyTrigger.Status.DELIVERED)
    changelist = reverse("admin:ivr_surveytrigger_changelist")
    # the first click asks, and changes nothing
    page = admin_client.post(
        changelist, {"action": "resend", "_selected_action": [dead.pk, delivered.pk]}
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert "1 of the 2 selected" in text and "the other 1 is left as\nit is" in text
    dead.refresh_from_db()
    assert dead.status == SurveyTrigger.Status.FAILED
    # the page's own form runs it
    form = dict(re.findall(r'name="(action|select_across|index|confirmed)" value="([^"]*)"', text))
    ids = re.findall(r'name="_selected_action" value="(\d+)"', text)
    done = admin_client.post(changelist, {**form, "_selected_action": ids}, follow=True)
    assert "1 survey resent" in done.content.decode()
    dead.refresh_from_db()
    assert dead.status == SurveyTrigger.Status.PENDING


def test_the_mapping_page_shows_the_stored_names_beside_the_ids(admin_client, client):
    # given a mapping saved with its queue's and campaign's names and a token
    mapping = IvrMappingFactory(queue_name="Mail - General", campaign_name="Support NPS")
    url = reverse("admin:ivr_ivrmapping_change", args=[mapping.pk])

    # when an account admin opens it
    page = admin_client.get(url).content.decode()

    # then the names are beside the ids, and the help says the stored token is used
    assert re.search(r'class="relay-picker-current" data-id="[^"]+">Mail - General<', page)
    assert re.search(r'class="relay-picker-current" data-id="7232">Support NPS<', page)
    assert "Type the token above" not in page
    assert "“Load queues” lists Dixa's queues for the stored token" in page


def test_a_read_only_mapping_page_shows_the_names_too(client, staff_user_factory):
    mapping = IvrMappingFactory(queue_name="Mail - General", campaign_name="Support NPS")
    client.force_login(staff_user_factory("ops", mapping.account, perms=["view_ivrmapping"]))
    page = client.get(reverse("admin:ivr_ivrmapping_change", args=[mapping.pk])).content.decode()
    assert f"{mapping.queue_id} · Mail - General" in page
    assert "7232 · Support NPS" in page


def test_a_new_mapping_still_asks_for_the_token_first(admin_client):
    page = admin_client.get(ADD).content.decode()
    assert "Type the token above, then “Load queues”" in page
    assert "relay-picker-current" not in page


def test_the_mappings_list_filters_by_the_users_accounts(client, staff_user_factory):
    # given an operator of two accounts, and a third account they do not work on
    mine, also = IvrMappingFactory(name="Mine"), IvrMappingFactory(name="Also mine")
    theirs = IvrMappingFactory(name="Theirs")
    user = staff_user_factory("ann", mine.account, also.account, perms=["view_ivrmapping"])
    client.force_login(user)
    url = reverse("admin:ivr_ivrmapping_changelist")

    # when the list is shown
    response = client.get(url)

    # then an Account filter offers their two accounts only, and filters by them
    [spec] = [f for f in response.context["cl"].filter_specs if f.title == "account"]
    assert {label for _, label in spec.lookup_choices} == {str(mine.account), str(also.account)}
    assert str(theirs.account) not in response.content.decode()
    only = client.get(url, {"account__id__exact": also.account_id}).context["cl"].result_list
    assert list(only) == [also]


def test_the_dashboard_links_the_customer_lookup(admin_client, client, staff_user_factory):
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert f'action="{reverse("admin:ivr_customer_lookup")}"' in page
    # not for a user who cannot see surveys
    client.force_login(staff_user_factory("eve", AccountFactory()))
    assert 'id="relay-lookup"' not in client.get(reverse("admin:index")).content.decode()
    # but for one whose change permission lets them see surveys (as the lookup does)
    operator = staff_user_factory("olaf", AccountFactory(), perms=["change_surveytrigger"])
    client.force_login(operator)
    assert 'id="relay-lookup"' in client.get(reverse("admin:index")).content.decode()
    assert client.get(reverse("admin:ivr_customer_lookup")).status_code == 200


@pytest.mark.parametrize(("count", "message"), [(1, "1 survey resent"), (3, "3 surveys resent")])
def test_the_resend_message_reads_properly(admin_client, count, message):
    dead = [SurveyTriggerFactory(status=SurveyTrigger.Status.FAILED) for _ in range(count)]
    response = admin_client.post(
        reverse("admin:ivr_surveytrigger_changelist"),
        {"action": "resend", "confirmed": "yes", "_selected_action": [t.pk for t in dead]},
        follow=True,
    )
    assert message in [str(m) for m in response.context["messages"]]


def mapping_actions(client) -> set[str]:
    form = client.get(reverse("admin:ivr_ivrmapping_changelist")).context["action_form"]
    return {name for name, _ in form.fields["action"].choices if name}


def test_a_mapping_with_surveys_offers_no_delete_even_to_a_superuser(admin_client):
    # given a mapping that made a survey
    mapping = SurveyTriggerFactory().mapping
    delete = reverse("admin:ivr_ivrmapping_delete", args=[mapping.pk])
    # when its page and the list are opened
    page = admin_client.get(reverse("admin:ivr_ivrmapping_change", args=[mapping.pk]))
    # then neither offers a delete, and the delete page refuses (disable it instead)
    assert f'href="{delete}"' not in page.content.decode()
    assert "delete_selected" not in mapping_actions(admin_client)
    assert admin_client.get(delete).status_code == 403
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert IvrMapping.objects.filter(pk=mapping.pk).exists()


def test_a_mapping_without_surveys_is_deleted_from_its_page(admin_client):
    # given a mapping that never made a survey
    mapping = IvrMappingFactory()
    delete = reverse("admin:ivr_ivrmapping_delete", args=[mapping.pk])
    page = admin_client.get(reverse("admin:ivr_ivrmapping_change", args=[mapping.pk]))
    assert f'href="{delete}"' in page.content.decode()
    # when it is deleted, after Django's confirmation
    assert "Yes, I’m sure" in admin_client.get(delete).content.decode()
    admin_client.post(delete, {"post": "yes"})
    # then
    assert not IvrMapping.objects.filter(pk=mapping.pk).exists()


def test_delivery_to_npstoday_is_changed_never_added(admin_client):
    # given an account with its row (made on its first delivery) and one without yet
    NpsTodayDelivery.objects.create(account=AccountFactory())
    AccountFactory(name="New")
    add = reverse("admin:ivr_npstodaydelivery_add")
    # when the list is opened
    listing = admin_client.get(reverse("admin:ivr_npstodaydelivery_changelist"))
    # then no add is offered, not even to a superuser (it would clash with the account's row)
    assert f'href="{add}"' not in listing.content.decode()
    assert admin_client.get(add).status_code == 403


def test_the_retry_policy_is_explained_as_nps_todays_with_dixas_default(admin_client):
    policy = NpsTodayDelivery.objects.create(account=AccountFactory())
    page = admin_client.get(reverse("admin:ivr_npstodaydelivery_change", args=[policy.pk]))
    text = page.content.decode()
    assert "sent to nps.today before it becomes a dead letter" in text
    assert "Seconds from a failed try to the next" in text
    assert "(default 60, as Dixa retries its own webhooks)" in text
    assert "Dixa: 60 s" not in text

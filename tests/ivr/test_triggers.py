import dataclasses
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.utils import timezone

from integrations.models import InboundEvent
from integrations.services.processing import inbound_event_process, inbound_events_reprocess
from ivr import rules
from ivr.member import campaign_member
from ivr.models import SurveyTrigger
from tests.ivr.factories import IvrMappingFactory
from tests.ivr.helpers import (
    REALISTIC_CONVERSATION,
    closed_body,
    conversation,
    expected_member,
    stored_event,
    survey_reason,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_publish():
    with mock.patch("ivr.tasks.deliver_surveys.apply_async"):
        yield


def process(event) -> InboundEvent:
    inbound_event_process(event_pk=event.pk)
    event.refresh_from_db()
    return event


def test_the_member_body_follows_the_seed_mapping():
    guid = "5a0c7f5e-0000-4000-8000-000000000001"
    assert campaign_member(conversation(), guid=guid) == expected_member(guid)


@time_machine.travel("2026-11-22 12:00:00Z", tick=False)
def test_closed_event_in_a_mapped_queue_makes_one_pending_trigger():
    # given
    mapping = IvrMappingFactory()
    event = stored_event(mapping.account)
    # when
    event = process(event)
    # then
    trigger = SurveyTrigger.objects.get()
    assert event.outcome == "handled" and f"survey #{trigger.pk}" in event.outcome_reason
    assert trigger.status == "pending" and trigger.mapping == mapping
    assert trigger.payload["guid"] == str(trigger.guid)
    assert trigger.payload["respondent"]["emailAddress"] == "jane@example.com"
    assert trigger.next_attempt_at == timezone.now()


def test_camel_case_close_makes_the_same_member():
    mapping = IvrMappingFactory()
    process(stored_event(mapping.account, body=closed_body(casing="camel")))
    payload = SurveyTrigger.objects.get().payload
    assert payload["respondent"]["firstName"] == "Jane Jensen"
    assert payload["employee"]["email"] == "karla@corp.example"


def test_the_agents_phone_goes_to_the_employee():
    assignee = {**REALISTIC_CONVERSATION["assignee"], "phone": "+4511223344"}
    member = campaign_member(conversation(assignee=assignee), guid="g")
    assert member["employee"] == {
        "firstName": "Karla",
        "phoneNumber": "+4511223344",
        "email": "karla@corp.example",
    }


def test_a_member_without_an_assigned_agent_has_no_employee_fields():
    member = campaign_member(conversation(assignee=None), guid="g")
    assert member["employee"] == {}
    assert member["respondent"]["emailAddress"] == "jane@example.com"


def test_blank_and_non_scalar_values_are_left_out_of_the_member():
    # given a requester whose name is blank and whose phone and id are not text
    requester = {"id": True, "name": "   ", "email": "jane@example.com", "phone": ["+4520304050"]}
    # when
    member = campaign_member(conversation(requester=requester), guid="g")
    # then only the email address is sent
    assert member["respondent"] == {"emailAddress": "jane@example.com"}


def test_a_close_without_a_requester_is_skipped_with_the_reason():
    mapping = IvrMappingFactory()
    assert skip_reason(mapping, requester=None) == (
        "the requester has neither an email address nor a phone number"
    )


def skip_reason(mapping, **conversation) -> str:
    event = process(stored_event(mapping.account, **conversation))
    assert event.outcome == "skipped", event.outcome_reason
    assert not SurveyTrigger.objects.filter(inbound_event=event).exists()
    return survey_reason(event)


def test_no_mapping_for_the_queue():
    mapping = IvrMappingFactory()
    reason = skip_reason(mapping, queue={"id": "other-queue", "name": "X"})
    assert reason == "no enabled IVR mapping for queue other-queue"


def test_disabled_mapping_is_not_used():
    mapping = IvrMappingFactory(enabled=False)
    assert "no enabled IVR mapping" in skip_reason(mapping)


def test_no_queue():
    mapping = IvrMappingFactory()
    assert "has no queue" in skip_reason(mapping, queue=None)


def test_an_assigned_agent_is_required():
    mapping = IvrMappingFactory()
    assert skip_reason(mapping, assignee=None) == (
        "no assigned agent: nps.today requires one to send a survey"
    )


def test_abandoned_conversations_are_never_surveyed():
    mapping = IvrMappingFactory()
    body = closed_body(event_type="ConversationAbandoned")
    event = process(stored_event(mapping.account, body=body))
    assert event.outcome == "skipped"
    assert "abandoned conversations" in event.outcome_reason
    assert not SurveyTrigger.objects.exists()


def test_requester_without_email_or_phone():
    mapping = IvrMappingFactory()
    requester = {**REALISTIC_CONVERSATION["requester"], "email": None, "phone": None}
    assert "neither an email address nor a phone number" in skip_reason(
        mapping, requester=requester
    )


def test_channel_filter():
    mapping = IvrMappingFactory(channels=["WIDGET_CHAT"])
    assert skip_reason(mapping, channel="EMAIL") == "channel EMAIL is not surveyed by this mapping"


@pytest.mark.parametrize("missing", ["email", "phone"])
def test_an_email_address_or_a_phone_number_is_enough(missing):
    # given a requester with only one way to reach them
    mapping = IvrMappingFactory()
    requester = {**REALISTIC_CONVERSATION["requester"], missing: None}
    # when
    event = process(stored_event(mapping.account, requester=requester))
    # then
    assert event.outcome == "handled", event.outcome_reason
    assert SurveyTrigger.objects.filter(inbound_event=event).exists()


def test_a_listed_channel_is_surveyed():
    mapping = IvrMappingFactory(channels=["widget_chat", "email"])
    event = process(stored_event(mapping.account, channel="EMAIL"))
    assert event.outcome == "handled", event.outcome_reason


def test_rule_lists_stored_as_json_null_filter_nothing():
    mapping = IvrMappingFactory.build(channels=None, excluded_tags=None)
    assert rules.channel_allowed(mapping, conversation()) is None
    assert rules.no_excluded_tag(mapping, conversation()) is None


def test_excluded_tags_match_case_insensitively():
    mapping = IvrMappingFactory(excluded_tags=["refund", "spam"])
    assert skip_reason(mapping) == "excluded tag Refund"


def test_sampling_is_deterministic_per_conversation():
    mapping = IvrMappingFactory(sample_percent=50)
    outcomes = set()
    for csid in range(1000, 1040):
        event = process(stored_event(mapping.account, csid=csid))
        outcomes.add(event.outcome)
        if event.outcome == "skipped":
            assert survey_reason(event) == "not in the 50% sample"
    assert outcomes == {"handled", "skipped"}
    # the same conversation always gets the same answer, so reprocessing agrees
    for csid in range(1000, 1040):
        answers = {rules.sampled(mapping, conversation(csid=csid)) for _ in range(3)}
        first = InboundEvent.objects.get(csid=csid)
        assert answers == {survey_reason(first) if first.outcome == "skipped" else None}


def test_zero_percent_sample_surveys_nobody():
    mapping = IvrMappingFactory(sample_percent=0)
    assert skip_reason(mapping) == "not in the 0% sample"


def test_the_sample_share_follows_the_percent():
    # given 2000 closes of one mapping
    mapping = IvrMappingFactory.build(pk=7)
    closes = [dataclasses.replace(conversation(), csid=csid) for csid in range(1, 2001)]

    def surveyed(percent: int) -> set[int]:
        mapping.sample_percent = percent
        return {c.csid for c in closes if rules.sampled(mapping, c) is None}

    # then nobody at 0%, everybody at 100%, and about the percent in between
    everybody = {c.csid for c in closes}
    assert surveyed(0) == set()
    assert surveyed(100) == everybody
    assert 0 < len(surveyed(1)) <= 50
    assert 900 <= len(surveyed(50)) <= 1100
    assert 0 < len(everybody - surveyed(99)) <= 50
    # and a close sampled at some percent stays sampled at every higher one
    assert surveyed(1) <= surveyed(50) <= surveyed(99)


def test_quarantine_across_the_accounts_mappings():
    # given a survey to jane via one mapping
    first = IvrMappingFactory(quarantine_days=30)
    second = IvrMappingFactory(
        account=first.account, campaign_id=7300, queue_id="q-chat", quarantine_days=30
    )
    process(stored_event(first.account, csid=1))
    # when she closes another conversation in another mapped queue
    reason = skip_reason(second, csid=2, queue={"id": "q-chat", "name": "Chat"})
    # then
    assert reason == "quarantine: jane@example.com was surveyed within 30 days"


def test_quarantine_matches_phone_and_expires():
    mapping = IvrMappingFactory(quarantine_days=7)
    process(stored_event(mapping.account, csid=1))
    requester = {**REALISTIC_CONVERSATION["requester"], "email": "other@example.com"}
    assert "quarantine: +4520304050" in skip_reason(mapping, csid=2, requester=requester)
    SurveyTrigger.objects.update(created_at=timezone.now() - timedelta(days=8))
    event = process(stored_event(mapping.account, csid=3, requester=requester))
    assert event.outcome == "handled"


def test_dead_letters_do_not_quarantine():
    mapping = IvrMappingFactory(quarantine_days=30)
    process(stored_event(mapping.account, csid=1))
    SurveyTrigger.objects.update(status=SurveyTrigger.Status.FAILED)
    assert process(stored_event(mapping.account, csid=2)).outcome == "handled"


def test_reopened_and_closed_again_is_surveyed_once():
    mapping = IvrMappingFactory()
    process(stored_event(mapping.account, csid=77))
    reason = skip_reason(mapping, csid=77)  # a new close event of the same conversation
    trigger = SurveyTrigger.objects.get()
    assert reason == f"already surveyed for this conversation and campaign (survey #{trigger.pk})"


def test_every_close_is_surveyed_when_configured():
    mapping = IvrMappingFactory(once_per_conversation=False)
    process(stored_event(mapping.account, csid=77))
    process(stored_event(mapping.account, csid=77))
    assert SurveyTrigger.objects.count() == 2


def test_reprocessing_the_same_event_makes_no_second_trigger():
    mapping = IvrMappingFactory(once_per_conversation=False)
    event = process(stored_event(mapping.account))
    inbound_events_reprocess(queryset=InboundEvent.objects.filter(pk=event.pk))
    event = process(event)
    assert SurveyTrigger.objects.count() == 1
    assert "already surveyed" in event.outcome_reason


def test_two_campaigns_for_one_queue_make_two_triggers():
    mapping = IvrMappingFactory()
    IvrMappingFactory(account=mapping.account, campaign_id=7300, name="Second")
    event = process(stored_event(mapping.account))
    assert SurveyTrigger.objects.count() == 2
    assert event.outcome == "handled"


@time_machine.travel("2026-11-22 12:00:00Z", tick=False)
def test_delay_is_held_in_the_database():
    mapping = IvrMappingFactory(delay_minutes=1440)
    with mock.patch("ivr.tasks.deliver_surveys.apply_async") as apply_async:
        process(stored_event(mapping.account))
    trigger = SurveyTrigger.objects.get()
    assert (trigger.next_attempt_at, trigger.queued_at) == (
        timezone.now() + timedelta(days=1),
        None,
    )
    apply_async.assert_not_called()


def test_no_delay_queues_delivery_at_once(django_capture_on_commit_callbacks):
    mapping = IvrMappingFactory()
    with mock.patch("ivr.tasks.deliver_surveys.apply_async") as apply_async:
        with django_capture_on_commit_callbacks(execute=True):
            process(stored_event(mapping.account))
    apply_async.assert_called_once_with(args=([SurveyTrigger.objects.get().pk],), retry=False)


def test_mappings_of_another_account_are_never_used():
    mine = IvrMappingFactory()
    other = IvrMappingFactory()
    event = process(stored_event(other.account))
    assert SurveyTrigger.objects.get().account == other.account
    assert event.outcome == "handled"
    assert not SurveyTrigger.objects.filter(account=mine.account).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_closes_of_one_person_pass_the_quarantine_once():
    """Two workers processing closes of the same person at the same moment cannot both
    survey them."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    # given twenty closes of jane's conversations, in a queue with a 30-day quarantine
    mapping = IvrMappingFactory(quarantine_days=30)
    events = [stored_event(mapping.account, csid=5000 + n) for n in range(20)]

    def work(event):
        try:
            inbound_event_process(event_pk=event.pk)
        finally:
            connection.close()

    # when four workers process them at once
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(work, events))
    # then jane is surveyed once, and every other close says why not
    assert SurveyTrigger.objects.count() == 1
    skipped = InboundEvent.objects.filter(outcome="skipped")
    assert skipped.count() == 19
    assert all(survey_reason(e).startswith("quarantine: jane@example.com") for e in skipped)

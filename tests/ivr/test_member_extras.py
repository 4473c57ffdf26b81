"""The member-extras hook of `trigger_deliver`: other apps' fields merged into the member's
`custom`, or the survey held back (not a try) until they come or the wait is over. Tested
with a provider of the test's own; P-GAP's is tested in tests/pgap/test_member.py."""

import json
from datetime import timedelta
from unittest import mock

import httpx
import pytest
import respx
import time_machine
from django.utils import timezone

from ivr import member_extras
from ivr.member_extras import Extra, Wait
from ivr.models import SurveyTrigger
from ivr.services.delivery import survey_triggers_wake, trigger_deliver
from tests.ivr.factories import SurveyTriggerFactory

pytestmark = pytest.mark.django_db
NPS = "https://nps.test"
NOW = "2026-11-22 12:00:00Z"
Status = SurveyTrigger.Status


@pytest.fixture(autouse=True)
def _npstoday(settings):
    settings.NPSTODAY_API_URL = NPS
    settings.REDIS_URL = ""


@pytest.fixture
def published():
    with mock.patch("ivr.tasks.deliver_surveys.apply_async") as apply_async:
        yield apply_async


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run the block, then its on-commit callbacks, as if the test's transaction committed."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def answer():
    """The test provider's answer, changed by the test: a value, or a list consumed in turn."""
    box = {"answer": None}

    def provider(trigger):
        value = box["answer"]
        if isinstance(value, list):
            return value.pop(0)
        if isinstance(value, Exception):
            raise value
        return value

    member_extras.register("test", provider)
    yield box
    member_extras.unregister("test")


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def nps_route(trigger):
    return respx.post(f"{NPS}/campaigns/{trigger.campaign_id}/respondent").mock(
        return_value=httpx.Response(200, json={"id": 1})
    )


@respx.mock
def test_extra_fields_are_merged_into_custom_and_saved_as_sent(answer, published):
    # given a provider with a field for the member
    answer["answer"] = Extra(custom={"pGap": 7})
    trigger = SurveyTriggerFactory()
    route = nps_route(trigger)
    # when the survey is delivered
    assert trigger_deliver(trigger_id=trigger.pk) == Status.DELIVERED
    # then custom carries it beside dixaConversationId, in the request and in the records
    sent = json.loads(route.calls.last.request.content)
    assert json.loads(sent["custom"]) == {"dixaConversationId": trigger.csid, "pGap": 7}
    trigger.refresh_from_db()
    assert trigger.payload == sent
    assert trigger.attempts.get().request_body == sent


@respx.mock
def test_a_wait_holds_the_survey_back_without_counting_a_try(answer, published, committed, clock):
    # given a provider that waits 60 s
    until = timezone.now() + timedelta(seconds=60)
    answer["answer"] = Wait(until=until, reason="the agent's score")
    trigger = SurveyTriggerFactory()
    route = nps_route(trigger)
    # when it is due
    with committed():
        assert trigger_deliver(trigger_id=trigger.pk) == Status.PENDING
    # then nothing was sent, no try counted, and it comes back at the wait's end
    assert not route.called
    trigger.refresh_from_db()
    assert trigger.attempt_count == 0 and not trigger.attempts.exists()
    assert trigger.next_attempt_at == until
    assert trigger.reason == "waiting for the agent's score (until 12:01:00 UTC)"
    assert published.call_args.kwargs["countdown"] == 60


@respx.mock
def test_after_the_wait_it_goes_without_and_says_so(answer, published, clock):
    until = timezone.now() - timedelta(seconds=1)
    answer["answer"] = Wait(until=until, reason="the agent's score")
    trigger = SurveyTriggerFactory()
    route = nps_route(trigger)
    assert trigger_deliver(trigger_id=trigger.pk) == Status.DELIVERED
    assert json.loads(json.loads(route.calls.last.request.content)["custom"]) == {
        "dixaConversationId": trigger.csid
    }
    trigger.refresh_from_db()
    assert trigger.reason == (
        "delivered (200); sent without the agent's score: not there by 11:59:59 UTC"
    )
    assert trigger.attempt_count == 1


@respx.mock
def test_a_failing_provider_never_stops_the_survey(answer, published):
    answer["answer"] = RuntimeError("boom")
    trigger = SurveyTriggerFactory()
    nps_route(trigger)
    assert trigger_deliver(trigger_id=trigger.pk) == Status.DELIVERED
    trigger.refresh_from_db()
    assert trigger.reason == "delivered (200); sent without test's fields (RuntimeError)"


@respx.mock
def test_a_note_of_the_provider_is_in_the_reason(answer, published):
    answer["answer"] = Extra(note="sent without the score (missing)")
    trigger = SurveyTriggerFactory()
    nps_route(trigger)
    trigger_deliver(trigger_id=trigger.pk)
    trigger.refresh_from_db()
    assert trigger.reason == "delivered (200); sent without the score (missing)"


def test_wake_sends_only_surveys_that_wait_for_an_extra(answer, published, committed, clock):
    # given a survey waiting for an extra, one delayed for a day, one waiting for a retry
    later = timezone.now() + timedelta(hours=1)
    waiting = SurveyTriggerFactory(next_attempt_at=later, reason="waiting for the score (…)")
    delayed = SurveyTriggerFactory(csid=waiting.csid, next_attempt_at=later + timedelta(days=1))
    retrying = SurveyTriggerFactory(
        csid=waiting.csid, next_attempt_at=later, reason="try 1 failed: HTTP 503"
    )
    # when what it waited for arrives
    with committed():
        woken = survey_triggers_wake(account_id=waiting.account_id, csid=waiting.csid)
    # then only the waiting one is due now, and published
    assert woken == 1
    for trigger, due in ((waiting, timezone.now()), (delayed, delayed.next_attempt_at)):
        trigger.refresh_from_db()
        assert trigger.next_attempt_at == due
    retrying.refresh_from_db()
    assert retrying.next_attempt_at == later
    assert published.call_args.kwargs["args"] == ([waiting.pk],)


@respx.mock
def test_an_extra_that_arrives_while_the_survey_is_claimed_wakes_it(
    answer, published, committed, clock
):
    # given the provider says wait, and by the time the survey is pending again it is there
    until = timezone.now() + timedelta(seconds=60)
    answer["answer"] = [Wait(until=until, reason="the score"), Extra(custom={"pGap": 3})]
    trigger = SurveyTriggerFactory()
    # when it is due
    with committed():
        assert trigger_deliver(trigger_id=trigger.pk) == Status.PENDING
    # then it is due at once and published again, not at the wait's end
    trigger.refresh_from_db()
    assert trigger.next_attempt_at == timezone.now()
    assert published.call_args.kwargs["args"] == ([trigger.pk],)
    assert "countdown" not in published.call_args.kwargs


def test_merged_payload_keeps_what_custom_had():
    payload = {"guid": "g", "custom": json.dumps({"dixaConversationId": 5})}
    merged = member_extras.merged_payload(payload, {"pGap": 0})
    assert json.loads(merged["custom"]) == {"dixaConversationId": 5, "pGap": 0}
    assert payload["custom"] == json.dumps({"dixaConversationId": 5})  # not changed in place
    assert member_extras.merged_payload({"custom": "not json"}, {"pGap": 1}) == {
        "custom": "not json"
    }

"""The agent's score sent with the campaign member: `custom` = {"dixaConversationId": …,
"pGap": 7}; the survey waits (bounded) for the capture; without a score it goes, saying why."""

import json
from datetime import timedelta
from unittest import mock

import httpx
import pytest
import respx
import time_machine
from django.utils import timezone

from ivr.models import SurveyTrigger
from ivr.services.delivery import trigger_deliver
from pgap.models import AgentPrediction
from pgap.services.capture import prediction_capture
from tests.ivr.factories import IvrMappingFactory, SurveyTriggerFactory
from tests.pgap.dixa_events import CSID, attribute_update, close, pgap_mapping, process
from tests.pgap.factories import AgentPredictionFactory, PgapSetupFactory

pytestmark = pytest.mark.django_db
NPS = "https://nps.test"
NOW = "2026-11-22 12:00:00Z"
Status = SurveyTrigger.Status


@pytest.fixture(autouse=True)
def _quiet(settings):
    settings.NPSTODAY_API_URL = NPS
    settings.REDIS_URL = ""
    with (
        mock.patch("ivr.tasks.deliver_surveys.apply_async"),
        mock.patch("pgap.tasks.capture_predictions.apply_async"),
    ):
        yield


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def npstoday():
    with respx.mock(assert_all_called=False) as router:
        router.route(host="127.0.0.1").pass_through()  # the fake Dixa
        route = router.post(url__regex=rf"{NPS}/campaigns/\d+/respondent").mock(
            return_value=httpx.Response(200, json={"id": 1})
        )
        yield route


def sent_custom(route) -> dict:
    return json.loads(json.loads(route.calls.last.request.content)["custom"])


def survey(mapping, **fields) -> SurveyTrigger:
    return SurveyTriggerFactory(mapping=mapping, csid=CSID, **fields)


def test_a_captured_score_goes_in_custom_beside_the_conversation_id(npstoday):
    # given the agent's score was captured
    mapping = pgap_mapping()
    AgentPredictionFactory(mapping=mapping, csid=CSID, score=7)
    trigger = survey(mapping)
    # when the survey goes
    assert trigger_deliver(trigger_id=trigger.pk) == Status.DELIVERED
    # then custom carries it, and the trigger's payload and attempt record exactly that
    assert sent_custom(npstoday) == {"dixaConversationId": CSID, "pGap": 7}
    trigger.refresh_from_db()
    assert json.loads(trigger.payload["custom"]) == {"dixaConversationId": CSID, "pGap": 7}
    assert trigger.attempts.get().request_body == trigger.payload


def test_a_zero_is_sent_as_zero(npstoday):
    mapping = pgap_mapping()
    AgentPredictionFactory(mapping=mapping, csid=CSID, score=0)
    trigger_deliver(trigger_id=survey(mapping).pk)
    assert sent_custom(npstoday)["pGap"] == 0


@pytest.mark.parametrize("row", ["pending", "fetching", None])
def test_the_survey_waits_for_the_capture_without_counting_a_try(npstoday, clock, row):
    # given the score is being read (or its row not even made yet)
    mapping = pgap_mapping(wait_seconds=45)
    if row:
        AgentPredictionFactory(mapping=mapping, csid=CSID, score=None, status=row)
    trigger = survey(mapping)
    # when the survey is due
    assert trigger_deliver(trigger_id=trigger.pk) == Status.PENDING
    # then it waits at most wait_seconds past its due time, and nothing was sent
    trigger.refresh_from_db()
    assert not npstoday.called and trigger.attempt_count == 0
    assert trigger.next_attempt_at == trigger.created_at + timedelta(seconds=45)
    assert trigger.reason == "waiting for the agent's P-GAP score (until 12:00:45 UTC)"


def test_after_the_wait_it_goes_without_the_score_and_says_so(npstoday, clock):
    mapping = pgap_mapping()
    AgentPredictionFactory(mapping=mapping, csid=CSID, score=None, status="pending")
    trigger = survey(mapping)
    trigger_deliver(trigger_id=trigger.pk)
    clock.shift(timedelta(seconds=60))
    assert trigger_deliver(trigger_id=trigger.pk) == Status.DELIVERED
    assert sent_custom(npstoday) == {"dixaConversationId": CSID}
    trigger.refresh_from_db()
    assert trigger.reason == (
        "delivered (200); sent without the agent's P-GAP score: not there by 12:01:00 UTC"
    )


def test_a_delayed_survey_waits_past_its_delay_not_past_the_close(npstoday, clock):
    mapping = pgap_mapping()
    IvrMappingFactory._meta.model.objects.filter(pk=mapping.pk).update(delay_minutes=60)
    trigger = survey(mapping)
    clock.shift(timedelta(minutes=60))
    assert trigger_deliver(trigger_id=trigger.pk) == Status.PENDING
    trigger.refresh_from_db()
    assert trigger.next_attempt_at == timezone.now() + timedelta(seconds=60)


@pytest.mark.parametrize(
    "status, reason",
    [
        ("missing", "the attribute has no value"),
        ("invalid", '11 is outside 0–10 (raw value ["11"])'),
        ("failed", "Dixa refused the token (HTTP 401)"),
    ],
)
def test_without_a_score_the_survey_goes_at_once_and_says_why(npstoday, status, reason):
    mapping = pgap_mapping()
    AgentPredictionFactory(mapping=mapping, csid=CSID, score=None, status=status, reason=reason)
    trigger = survey(mapping)
    assert trigger_deliver(trigger_id=trigger.pk) == Status.DELIVERED
    assert "pGap" not in sent_custom(npstoday)
    trigger.refresh_from_db()
    label = AgentPrediction.Status(status).label.lower()
    assert trigger.reason == (
        f"delivered (200); sent without the agent's P-GAP score ({label}: {reason})"
    )


def test_a_mapping_outside_pgap_never_waits(npstoday):
    mapping = IvrMappingFactory()
    chosen = IvrMappingFactory(account=mapping.account, queue_id="q-other", name="Other")
    PgapSetupFactory(account=mapping.account).mappings.set([chosen])
    trigger = survey(mapping)
    assert trigger_deliver(trigger_id=trigger.pk) == Status.DELIVERED
    assert sent_custom(npstoday) == {"dixaConversationId": CSID}


def test_close_to_member_with_the_score_read_from_dixa(
    npstoday, fake_dixa, clock, django_capture_on_commit_callbacks
):
    # given P-GAP on and Dixa holding the agent's 6
    mapping = pgap_mapping()
    fake_dixa.add_conversation(CSID, p_gap=["6"])
    # when the close is processed, the survey is due before the read, and then the read runs
    with mock.patch("ivr.tasks.deliver_surveys.apply_async") as surveys:
        with django_capture_on_commit_callbacks(execute=True):
            process(close(mapping.account))
        trigger = SurveyTrigger.objects.get()
        assert trigger_deliver(trigger_id=trigger.pk) == Status.PENDING
        with django_capture_on_commit_callbacks(execute=True):
            prediction_capture(prediction_id=AgentPrediction.objects.get().pk)
    # then the read woke the survey, which goes at once with the score
    assert surveys.call_args.kwargs["args"] == ([trigger.pk],)
    assert trigger_deliver(trigger_id=trigger.pk) == Status.DELIVERED
    assert sent_custom(npstoday) == {"dixaConversationId": CSID, "pGap": 6}


def test_close_to_member_with_the_score_from_the_webhook(npstoday, fake_dixa):
    mapping = pgap_mapping()
    process(attribute_update(mapping.account, ["9"]))
    process(close(mapping.account))
    assert trigger_deliver(trigger_id=SurveyTrigger.objects.get().pk) == Status.DELIVERED
    assert sent_custom(npstoday) == {"dixaConversationId": CSID, "pGap": 9}
    assert not fake_dixa.recorded()

"""A task delivers a batch: each survey its own attempt row, guid and Idempotency-Key, the
requests side by side, one survey's failure never another's."""

import json
import logging
import threading
from datetime import timedelta
from unittest import mock

import httpx
import pytest
import respx
import time_machine
from django.utils import timezone

from ivr.models import DeliveryAttempt, SurveyTrigger
from ivr.services import delivery
from ivr.services.delivery import SURVEYS, triggers_deliver
from ivr.tasks import deliver_surveys
from tests.ivr.factories import DeliveryAttemptFactory, SurveyTriggerFactory

pytestmark = pytest.mark.django_db
NPS = "https://nps.test"
Status = SurveyTrigger.Status


@pytest.fixture(autouse=True)
def _npstoday(settings):
    settings.NPSTODAY_API_URL = NPS
    settings.REDIS_URL = ""
    with mock.patch("ivr.tasks.deliver_surveys.apply_async"):
        yield


def respondents():
    return respx.post(url__regex=rf"{NPS}/campaigns/\d+/respondent")


@respx.mock
def test_each_survey_of_a_batch_has_its_own_attempt_guid_and_idempotency_key():
    batch = [SurveyTriggerFactory() for _ in range(3)]
    route = respondents().mock(return_value=httpx.Response(200, json={"id": 1}))

    deliver_surveys.apply(args=([t.pk for t in batch],), task_id="task-1")

    sent = {
        r.request.headers["Idempotency-Key"]: json.loads(r.request.content) for r in route.calls
    }
    assert sent == {str(t.guid): t.payload for t in batch}
    for trigger in batch:
        trigger.refresh_from_db()
        assert (trigger.status, trigger.attempt_count) == (Status.DELIVERED, 1)
        attempt = trigger.attempts.get()
        assert (attempt.outcome, attempt.number, attempt.task_id) == ("success", 1, "task-1")
        assert attempt.request_headers["Idempotency-Key"] == str(trigger.guid)
        assert attempt.duration_ms is not None


@respx.mock
def test_the_requests_of_a_batch_are_made_side_by_side():
    """Each request waits until all three are in flight: one after the other, the first
    would give up at the barrier and its try would fail."""
    batch = [SurveyTriggerFactory() for _ in range(3)]
    together = threading.Barrier(3, timeout=10)

    def answer(request):
        together.wait()
        return httpx.Response(200, json={"id": 1})

    respondents().mock(side_effect=answer)
    statuses = triggers_deliver(trigger_ids=[t.pk for t in batch])
    assert statuses == {t.pk: Status.DELIVERED for t in batch}


@respx.mock
def test_one_surveys_failed_try_leaves_the_others_delivered():
    ok, refused, retried = (SurveyTriggerFactory() for _ in range(3))
    answers = {str(refused.guid): 400, str(retried.guid): 503}
    respondents().mock(
        side_effect=lambda request: httpx.Response(
            answers.get(request.headers["Idempotency-Key"], 200), json={}
        )
    )
    statuses = triggers_deliver(trigger_ids=[ok.pk, refused.pk, retried.pk])
    assert statuses == {
        ok.pk: Status.DELIVERED,
        refused.pk: Status.FAILED,
        retried.pk: Status.PENDING,
    }
    outcomes = dict(DeliveryAttempt.objects.values_list("trigger_id", "outcome"))
    assert outcomes == {ok.pk: "success", refused.pk: "failed", retried.pk: "retry"}


@respx.mock
def test_a_survey_that_breaks_unexpectedly_stays_claimed_and_the_others_go(caplog):
    ok, broken = SurveyTriggerFactory(), SurveyTriggerFactory()
    respondents().mock(return_value=httpx.Response(200, json={"id": 1}))
    real_prepare = delivery._prepare

    def prepare(trigger):
        if trigger.pk == broken.pk:
            raise RuntimeError("bug")
        return real_prepare(trigger)

    with mock.patch.object(delivery, "_prepare", side_effect=prepare):
        statuses = triggers_deliver(trigger_ids=[broken.pk, ok.pk])

    assert statuses == {ok.pk: Status.DELIVERED}
    broken.refresh_from_db()
    assert broken.status == Status.SENDING  # the dispatcher puts it back after the timeout
    assert f"survey {broken.pk}: delivery failed unexpectedly" in caplog.text


@respx.mock
def test_a_batch_whose_worker_died_mid_send_is_reclaimed_and_sent_with_the_same_guid():
    # given a worker that claimed a batch, wrote both attempts, and died sending
    with time_machine.travel(timezone.now() - timedelta(minutes=5)):
        batch = [SurveyTriggerFactory() for _ in range(2)]
        assert SURVEYS.claim_many([t.pk for t in batch]) == [t.pk for t in batch]
        for trigger in batch:
            DeliveryAttemptFactory(trigger=trigger)
    # when the dispatcher reclaims it
    assert SURVEYS.reclaim() == 2
    assert set(DeliveryAttempt.objects.values_list("outcome", flat=True)) == {"interrupted"}
    # then a new worker sends each again with its guid, in a second attempt row
    route = respondents().mock(return_value=httpx.Response(200, json={"id": 1}))
    statuses = triggers_deliver(trigger_ids=[t.pk for t in batch])
    assert statuses == {t.pk: Status.DELIVERED for t in batch}
    assert {c.request.headers["Idempotency-Key"] for c in route.calls} == {
        str(t.guid) for t in batch
    }
    for trigger in batch:
        assert list(trigger.attempts.order_by("pk").values_list("outcome", flat=True)) == [
            "interrupted",
            "success",
        ]


def test_a_duplicate_message_for_a_batch_sends_nothing():
    batch = [SurveyTriggerFactory() for _ in range(2)]
    SURVEYS.claim_many([t.pk for t in batch])
    with respx.mock(assert_all_called=False) as router:
        route = router.post(url__regex=r".*").mock(return_value=httpx.Response(200))
        assert triggers_deliver(trigger_ids=[t.pk for t in batch]) == {}
    assert not route.called
    assert not DeliveryAttempt.objects.exists()


@respx.mock
def test_each_delivery_decision_is_one_log_line_with_ids_and_no_personal_data(caplog):
    trigger = SurveyTriggerFactory()
    respondents().mock(return_value=httpx.Response(200, json={"id": 1}))
    with caplog.at_level(logging.INFO, logger="ivr.services.delivery"):
        triggers_deliver(trigger_ids=[trigger.pk])
    (line,) = [r.getMessage() for r in caplog.records if r.name == "ivr.services.delivery"]
    attempt = trigger.attempts.get()
    assert line.startswith(
        f"survey delivered: account {trigger.account_id}, survey {trigger.pk}, "
        f"campaign {trigger.campaign_id}, attempt {attempt.pk} (try 1, "
    )
    assert line.endswith("HTTP 200")
    for personal in (trigger.respondent_email, trigger.respondent_phone, "nps-test-key"):
        assert personal not in line

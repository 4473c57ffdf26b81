import json
from datetime import timedelta
from unittest import mock

import httpx
import pytest
import respx
from django.utils import timezone

from integrations.models import Account
from ivr.models import DeliveryAttempt, SurveyTrigger
from ivr.services import operations
from ivr.services.delivery import survey_triggers_sweep, trigger_deliver
from tests.ivr.factories import IvrMappingFactory
from tests.ivr.helpers import stored_event

pytestmark = pytest.mark.django_db
NPS = "https://nps.test"
Status = SurveyTrigger.Status


@pytest.fixture(autouse=True)
def _npstoday(settings):
    settings.NPSTODAY_API_URL = NPS
    settings.REDIS_URL = ""  # the limiter is exercised end to end
    with mock.patch("ivr.tasks.deliver_trigger.apply_async"):
        yield


def make_trigger(**mapping_fields) -> SurveyTrigger:
    from integrations.services.processing import inbound_event_process

    mapping = IvrMappingFactory(**mapping_fields)
    inbound_event_process(event_pk=stored_event(mapping.account).pk)
    return SurveyTrigger.objects.get(mapping=mapping)


def respondent_route(trigger):
    return respx.post(f"{NPS}/campaigns/{trigger.campaign_id}/respondent")


@respx.mock
def test_success_sends_the_member_with_key_and_idempotency_key():
    trigger = make_trigger()
    route = respondent_route(trigger).mock(return_value=httpx.Response(200, json={"id": 1}))
    assert trigger_deliver(trigger_id=trigger.pk, task_id="t-1") == Status.DELIVERED
    request = route.calls.last.request
    assert request.headers["Authorization"] == "apikey nps-test-key"
    assert request.headers["Idempotency-Key"] == str(trigger.guid)
    assert json.loads(request.content) == trigger.payload
    trigger.refresh_from_db()
    assert (trigger.status, trigger.attempt_count, trigger.last_status_code) == (
        "delivered",
        1,
        200,
    )
    attempt = trigger.attempts.get()
    assert attempt.outcome == "success" and attempt.task_id == "t-1"
    assert attempt.request_headers["Authorization"] == "apikey ••••-key"  # never the key
    assert attempt.duration_ms is not None


@respx.mock
def test_503_is_retried_a_minute_later():
    trigger = make_trigger()
    respondent_route(trigger).mock(return_value=httpx.Response(503, text="busy"))
    before = timezone.now()
    assert trigger_deliver(trigger_id=trigger.pk) == Status.PENDING
    trigger.refresh_from_db()
    assert before + timedelta(seconds=60) <= trigger.next_attempt_at
    assert trigger.next_attempt_at <= timezone.now() + timedelta(seconds=60)
    assert trigger.reason == "try 1 failed: HTTP 503"
    assert trigger.attempts.get().outcome == "retry"
    assert trigger.attempts.get().response_body == "busy"


@respx.mock
def test_a_trigger_not_yet_due_is_not_sent():
    trigger = make_trigger()
    SurveyTrigger.objects.filter(pk=trigger.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=1)
    )
    route = respondent_route(trigger).mock(return_value=httpx.Response(200))
    assert trigger_deliver(trigger_id=trigger.pk) is None
    assert not route.called


@respx.mock
def test_400_fails_at_once_with_its_reason():
    trigger = make_trigger()
    respondent_route(trigger).mock(return_value=httpx.Response(400, json={"message": "bad"}))
    assert trigger_deliver(trigger_id=trigger.pk) == Status.FAILED
    trigger.refresh_from_db()
    assert trigger.reason == "permanent failure: HTTP 400"
    assert trigger.finished_at is not None


@respx.mock
def test_no_answer_is_a_failed_try():
    trigger = make_trigger()
    respondent_route(trigger).mock(side_effect=httpx.ConnectTimeout("timed out"))
    assert trigger_deliver(trigger_id=trigger.pk) == Status.PENDING
    attempt = DeliveryAttempt.objects.get()
    assert attempt.response_status_code is None and "ConnectTimeout" in attempt.error


@respx.mock
def test_429_waits_as_long_as_retry_after_says():
    trigger = make_trigger()
    respondent_route(trigger).mock(return_value=httpx.Response(429, headers={"Retry-After": "5"}))
    trigger_deliver(trigger_id=trigger.pk)
    trigger.refresh_from_db()
    wait = trigger.next_attempt_at - trigger.attempts.get().created_at
    assert timedelta(seconds=4) < wait < timedelta(seconds=6)


@respx.mock
def test_account_policy_sets_tries_and_spacing():
    trigger = make_trigger(account__npstoday_max_attempts=2, account__npstoday_retry_seconds=2)
    respondent_route(trigger).mock(return_value=httpx.Response(502))
    assert trigger_deliver(trigger_id=trigger.pk) == Status.PENDING
    trigger.refresh_from_db()
    assert trigger.next_attempt_at - timezone.now() < timedelta(seconds=3)
    SurveyTrigger.objects.filter(pk=trigger.pk).update(next_attempt_at=timezone.now())
    assert trigger_deliver(trigger_id=trigger.pk) == Status.FAILED
    trigger.refresh_from_db()
    assert trigger.reason == "gave up after 2 tries; last: HTTP 502"
    assert list(trigger.attempts.values_list("outcome", flat=True)) == ["retry", "failed"]


@respx.mock
def test_key_is_disabled_after_the_failure_streak_and_reenabling_releases(settings):
    # given a threshold of 3 failures in a row
    settings.NPSTODAY_DISABLE_AFTER_FAILURES = 3
    trigger = make_trigger()
    account = trigger.account
    respondent_route(trigger).mock(return_value=httpx.Response(500))
    for _ in range(3):
        SurveyTrigger.objects.filter(pk=trigger.pk).update(next_attempt_at=timezone.now())
        trigger_deliver(trigger_id=trigger.pk)
    account.refresh_from_db()
    assert account.npstoday_disabled_at is not None
    assert "disabled after 3 failed deliveries in a row" in account.npstoday_disabled_reason
    # when the next try comes due, it is held, not sent, and is not counted as a try
    SurveyTrigger.objects.filter(pk=trigger.pk).update(next_attempt_at=timezone.now())
    assert trigger_deliver(trigger_id=trigger.pk) == Status.HELD
    trigger.refresh_from_db()
    assert trigger.attempt_count == 3 and trigger.attempts.count() == 3
    # then re-enabling resumes it
    released = operations.npstoday_key_reenable(account=account)
    assert released == 1
    respondent_route(trigger).mock(return_value=httpx.Response(200))
    assert trigger_deliver(trigger_id=trigger.pk) == Status.DELIVERED
    account.refresh_from_db()
    assert account.npstoday_failure_streak == 0 and account.npstoday_disabled_at is None


@respx.mock
def test_a_success_resets_the_streak_and_old_failures_do_not_count(settings):
    settings.NPSTODAY_DISABLE_AFTER_FAILURES = 3
    trigger = make_trigger()
    Account.objects.filter(pk=trigger.account_id).update(
        npstoday_failure_streak=2,
        npstoday_failure_streak_started_at=timezone.now() - timedelta(hours=4),
    )
    respondent_route(trigger).mock(return_value=httpx.Response(500))
    trigger_deliver(trigger_id=trigger.pk)
    account = Account.objects.get(pk=trigger.account_id)
    assert account.npstoday_failure_streak == 1 and account.npstoday_disabled_at is None


def test_sweeper_reclaims_a_trigger_whose_worker_died(settings):
    trigger = make_trigger()
    started = timezone.now() - timedelta(seconds=settings.TRIGGER_SENDING_TIMEOUT_SECONDS + 5)
    SurveyTrigger.objects.filter(pk=trigger.pk).update(
        status=Status.SENDING, sending_started_at=started
    )
    DeliveryAttempt.objects.create(
        trigger=trigger, number=1, request_url="https://x", request_body={}, outcome="in_flight"
    )
    result = survey_triggers_sweep()
    trigger.refresh_from_db()
    assert result["reclaimed"] == 1 and trigger.status == Status.PENDING
    assert DeliveryAttempt.objects.get().outcome == "interrupted"


def test_sweeper_queues_due_triggers_once_per_window():
    trigger = make_trigger()
    SurveyTrigger.objects.filter(pk=trigger.pk).update(queued_at=None)
    with mock.patch("ivr.tasks.deliver_trigger.apply_async") as apply_async:
        assert survey_triggers_sweep()["queued"] == 1
        assert survey_triggers_sweep()["queued"] == 0
    apply_async.assert_called_once_with(args=(trigger.pk,), retry=False)


def test_sweeper_holds_pending_triggers_of_a_disabled_key():
    trigger = make_trigger()
    Account.objects.filter(pk=trigger.account_id).update(npstoday_disabled_at=timezone.now())
    assert survey_triggers_sweep()["held"] == 1
    assert SurveyTrigger.objects.get(pk=trigger.pk).status == Status.HELD


def test_account_without_an_npstoday_key_fails_with_a_reason():
    trigger = make_trigger(account__npstoday_api_key="")
    assert trigger_deliver(trigger_id=trigger.pk) == Status.FAILED
    assert SurveyTrigger.objects.get(pk=trigger.pk).reason == "the account has no nps.today API key"


def test_operations_retry_now_cancel_and_resend():
    trigger = make_trigger(delay_minutes=60)
    queryset = SurveyTrigger.objects.filter(pk=trigger.pk)
    assert operations.survey_triggers_retry_now(queryset=queryset) == 1
    assert SurveyTrigger.objects.get(pk=trigger.pk).next_attempt_at <= timezone.now()
    assert operations.survey_triggers_cancel(queryset=queryset, by="ann") == 1
    assert SurveyTrigger.objects.get(pk=trigger.pk).reason == "cancelled by ann"
    assert operations.survey_triggers_resend(queryset=queryset, by="ann") == 1
    resent = SurveyTrigger.objects.get(pk=trigger.pk)
    assert (resent.status, resent.attempt_count, resent.guid) == ("pending", 0, trigger.guid)


def test_resend_failed_since_takes_only_recent_dead_letters_of_visible_accounts():
    old, recent, foreign = make_trigger(), make_trigger(), make_trigger()
    now = timezone.now()
    SurveyTrigger.objects.filter(pk=old.pk).update(
        status=Status.FAILED, finished_at=now - timedelta(days=2)
    )
    SurveyTrigger.objects.filter(pk__in=[recent.pk, foreign.pk]).update(
        status=Status.FAILED, finished_at=now
    )
    count = operations.survey_triggers_resend_failed_since(
        accounts=Account.objects.exclude(pk=foreign.account_id),
        since=now - timedelta(hours=1),
        by="ann",
    )
    assert count == 1
    assert SurveyTrigger.objects.get(pk=recent.pk).status == Status.PENDING
    assert SurveyTrigger.objects.get(pk=old.pk).status == Status.FAILED
    assert SurveyTrigger.objects.get(pk=foreign.pk).status == Status.FAILED

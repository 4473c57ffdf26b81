"""One try at nps.today (`trigger_deliver`), its outcome and the key's health. The relay's
own decisions (rules, the member body) are tested in test_triggers.py."""

import json
from datetime import timedelta
from unittest import mock

import httpx
import pytest
import respx
import time_machine
from django.urls import reverse
from django.utils import timezone
from prometheus_client import REGISTRY

from integrations.models import Account
from ivr.models import DeliveryAttempt, NpsTodayDelivery, SurveyTrigger
from ivr.services import operations
from ivr.services.delivery import SURVEYS, npstoday_key_record_failure, trigger_deliver
from tests.ivr.factories import (
    DeliveryAttemptFactory,
    NpsTodayDeliveryFactory,
    SurveyTriggerFactory,
)
from tests.support.locks import locked_elsewhere
from tests.support.processes import free_port

pytestmark = pytest.mark.django_db
NPS = "https://nps.test"
NOW = "2026-11-22 12:00:00Z"
Status = SurveyTrigger.Status


@pytest.fixture(autouse=True)
def _npstoday(settings):
    settings.NPSTODAY_API_URL = NPS
    settings.REDIS_URL = ""  # the limiter is exercised end to end
    with mock.patch("ivr.tasks.deliver_surveys.apply_async"):
        yield


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def respondent_route(trigger):
    return respx.post(f"{NPS}/campaigns/{trigger.campaign_id}/respondent")


def policy(trigger) -> NpsTodayDelivery:
    return NpsTodayDelivery.objects.get(pk=trigger.account_id)


@respx.mock
def test_success_sends_the_member_with_key_and_idempotency_key():
    trigger = SurveyTriggerFactory()
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
def test_503_is_retried_a_minute_later(clock):
    trigger = SurveyTriggerFactory()
    respondent_route(trigger).mock(return_value=httpx.Response(503, text="busy"))
    assert trigger_deliver(trigger_id=trigger.pk) == Status.PENDING
    trigger.refresh_from_db()
    assert trigger.next_attempt_at == timezone.now() + timedelta(seconds=60)
    assert trigger.reason == "try 1 failed: HTTP 503"
    assert trigger.attempts.get().outcome == "retry"
    assert trigger.attempts.get().response_body == "busy"


@respx.mock
def test_a_short_wait_is_also_published_as_a_countdown(clock, django_capture_on_commit_callbacks):
    trigger = SurveyTriggerFactory()
    respondent_route(trigger).mock(return_value=httpx.Response(503))
    with (
        mock.patch("ivr.tasks.deliver_surveys.apply_async") as apply_async,
        django_capture_on_commit_callbacks(execute=True),
    ):
        trigger_deliver(trigger_id=trigger.pk)
    apply_async.assert_called_once_with(args=([trigger.pk],), retry=False, countdown=60.0)


@respx.mock
def test_a_long_wait_leaves_the_retry_to_the_dispatcher_when_it_falls_due(clock, settings):
    # given a survey handed off once, and a retry spacing longer than a countdown may be
    settings.SURVEY_COUNTDOWN_MAX_SECONDS = 30
    trigger = SurveyTriggerFactory(queued_at=timezone.now())
    respondent_route(trigger).mock(return_value=httpx.Response(503))
    with mock.patch("ivr.tasks.deliver_surveys.apply_async") as apply_async:
        trigger_deliver(trigger_id=trigger.pk)
    # then no countdown is sent, and the row is unstamped: the dispatcher wakes for it when
    # it falls due (a stale stamp hid it, and then read as a lost message)
    apply_async.assert_not_called()
    trigger.refresh_from_db()
    assert trigger.queued_at is None
    assert SURVEYS.next_due_at() == timezone.now() + timedelta(seconds=60)


@respx.mock
def test_a_trigger_not_yet_due_is_not_sent(clock):
    trigger = SurveyTriggerFactory(next_attempt_at=timezone.now() + timedelta(minutes=1))
    route = respondent_route(trigger).mock(return_value=httpx.Response(200))
    assert trigger_deliver(trigger_id=trigger.pk) is None
    assert not route.called


@respx.mock
def test_400_fails_at_once_with_its_reason():
    trigger = SurveyTriggerFactory()
    respondent_route(trigger).mock(return_value=httpx.Response(400, json={"message": "bad"}))
    assert trigger_deliver(trigger_id=trigger.pk) == Status.FAILED
    trigger.refresh_from_db()
    assert trigger.reason == "permanent failure: HTTP 400"
    assert trigger.finished_at is not None


def dead_letters() -> float:
    return REGISTRY.get_sample_value("relay_dead_letters_total") or 0.0


@respx.mock
def test_a_retry_keeps_the_answer_and_is_not_handed_off_twice(clock):
    # given nps.today busy, with a cookie among the headers of its answer
    trigger = SurveyTriggerFactory()
    headers = {"Retry-After": "120", "Set-Cookie": "session=1", "X-Request-Id": "r-1"}
    respondent_route(trigger).mock(return_value=httpx.Response(503, headers=headers))
    # when
    trigger_deliver(trigger_id=trigger.pk)
    # then the try keeps the status and the safe headers only
    attempt = DeliveryAttempt.objects.get()
    assert attempt.response_status_code == 503
    assert attempt.response_headers == {"retry-after": "120", "x-request-id": "r-1"}
    # and the survey waits, unfinished, queued as a countdown: the dispatcher leaves it
    trigger.refresh_from_db()
    assert trigger.finished_at is None
    assert trigger.queued_at == trigger.next_attempt_at == timezone.now() + timedelta(seconds=60)
    clock.shift(60)
    assert not SURVEYS.due(timezone.now()).filter(pk=trigger.pk).exists()


@respx.mock
@pytest.mark.parametrize("seconds, published", [(300, [300.0]), (301, [])])
def test_only_a_wait_within_the_countdown_limit_is_published_as_one(
    settings, clock, django_capture_on_commit_callbacks, seconds, published
):
    # given an account spacing its tries at or just beyond the countdown limit
    settings.SURVEY_COUNTDOWN_MAX_SECONDS = 300
    trigger = SurveyTriggerFactory()
    NpsTodayDeliveryFactory(account=trigger.account, retry_seconds=seconds)
    respondent_route(trigger).mock(return_value=httpx.Response(503))
    # when the try fails
    with (
        mock.patch("ivr.tasks.deliver_surveys.apply_async") as apply_async,
        django_capture_on_commit_callbacks(execute=True),
    ):
        trigger_deliver(trigger_id=trigger.pk)
    # then only the short wait is a countdown; the long one waits for the dispatcher
    assert [c.kwargs["countdown"] for c in apply_async.call_args_list] == published
    trigger.refresh_from_db()
    assert (trigger.queued_at is not None) == bool(published)


@respx.mock
def test_a_delivered_survey_is_finished_and_only_a_failed_one_is_a_dead_letter(clock):
    delivered, retried, refused = SurveyTriggerFactory.create_batch(3)
    respondent_route(delivered).mock(
        side_effect=[httpx.Response(200), httpx.Response(503), httpx.Response(400)]
    )
    before = dead_letters()
    assert trigger_deliver(trigger_id=delivered.pk) == Status.DELIVERED
    assert trigger_deliver(trigger_id=retried.pk) == Status.PENDING
    assert dead_letters() == before
    assert trigger_deliver(trigger_id=refused.pk) == Status.FAILED
    assert dead_letters() == before + 1
    delivered_row = SurveyTrigger.objects.get(pk=delivered.pk)
    assert delivered_row.finished_at == timezone.now()
    assert delivered_row.next_attempt_at == delivered.next_attempt_at


@respx.mock
def test_no_answer_is_a_failed_try():
    trigger = SurveyTriggerFactory()
    respondent_route(trigger).mock(side_effect=httpx.ConnectTimeout("timed out"))
    assert trigger_deliver(trigger_id=trigger.pk) == Status.PENDING
    attempt = DeliveryAttempt.objects.get()
    sentence = "nps.today (https://nps.test) did not answer: no connection within 5 s"
    assert attempt.response_status_code is None and attempt.error == sentence
    assert SurveyTrigger.objects.get(pk=trigger.pk).reason == f"try 1 failed: {sentence}"


def test_a_survey_nps_today_does_not_answer_names_the_address_and_why(
    clock, admin_client, settings
):
    # given nps.today's address on a port nobody listens on (a secret in its path), one try
    port = free_port()
    settings.NPSTODAY_API_URL = f"http://127.0.0.1:{port}/tenant/s3cret"
    trigger = SurveyTriggerFactory()
    NpsTodayDeliveryFactory(account=trigger.account, max_attempts=1)
    # when it is sent
    assert trigger_deliver(trigger_id=trigger.pk) == Status.FAILED
    # then the try, the survey's reason and its admin page name the address and the reason
    sentence = f"nps.today (http://127.0.0.1:{port}) did not answer: the connection was refused"
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.response_status_code, attempt.error) == (None, sentence)
    trigger.refresh_from_db()
    assert trigger.reason == f"gave up after 1 tries; last: {sentence}"
    page = admin_client.get(reverse("admin:ivr_surveytrigger_change", args=[trigger.pk]))
    assert sentence in page.content.decode()
    # and never the path nor the key
    for secret in ("s3cret", "/campaigns", "nps-test-key"):
        assert secret not in attempt.error and secret not in trigger.reason


@respx.mock
def test_a_request_the_client_cannot_even_build_is_a_failed_try_not_a_crash():
    # given a key no HTTP header can carry (refused on save today; stored before that)
    trigger = SurveyTriggerFactory()
    Account.objects.filter(pk=trigger.account_id).update(npstoday_api_key="nps-ключ-Injected")
    # when it is sent
    status = trigger_deliver(trigger_id=trigger.pk)
    # then the try failed with a reason that does not repeat the key
    assert status == Status.PENDING
    attempt = DeliveryAttempt.objects.get()
    assert attempt.outcome == "retry" and attempt.error
    assert "Injected" not in attempt.error


@respx.mock
def test_429_waits_as_long_as_retry_after_says(clock):
    trigger = SurveyTriggerFactory()
    respondent_route(trigger).mock(return_value=httpx.Response(429, headers={"Retry-After": "5"}))
    trigger_deliver(trigger_id=trigger.pk)
    trigger.refresh_from_db()
    assert trigger.next_attempt_at == timezone.now() + timedelta(seconds=5)


@respx.mock
def test_account_policy_sets_tries_and_spacing(clock):
    trigger = SurveyTriggerFactory()
    NpsTodayDeliveryFactory(account=trigger.account, max_attempts=2, retry_seconds=2)
    respondent_route(trigger).mock(return_value=httpx.Response(502))
    assert trigger_deliver(trigger_id=trigger.pk) == Status.PENDING
    trigger.refresh_from_db()
    assert trigger.next_attempt_at == timezone.now() + timedelta(seconds=2)
    clock.shift(2)
    assert trigger_deliver(trigger_id=trigger.pk) == Status.FAILED
    trigger.refresh_from_db()
    assert trigger.reason == "gave up after 2 tries; last: HTTP 502"
    assert list(trigger.attempts.values_list("outcome", flat=True)) == ["retry", "failed"]


@respx.mock
def test_key_is_disabled_after_the_failure_streak_and_reenabling_releases(settings, clock):
    # given a threshold of 3 failures in a row, and a second survey waiting
    settings.NPSTODAY_DISABLE_AFTER_FAILURES = 3
    trigger = SurveyTriggerFactory()
    waiting = SurveyTriggerFactory(
        mapping=trigger.mapping, next_attempt_at=timezone.now() + timedelta(hours=1)
    )
    respondent_route(trigger).mock(return_value=httpx.Response(500))
    for _ in range(3):
        trigger_deliver(trigger_id=trigger.pk)
        clock.shift(60)
    state = policy(trigger)
    assert state.disabled_at is not None
    assert "disabled after 3 failed deliveries in a row" in state.disabled_reason
    # then the surveys waiting are held, not sent, and holding is not counted as a try
    assert SurveyTrigger.objects.get(pk=waiting.pk).status == Status.HELD
    assert trigger_deliver(trigger_id=trigger.pk) is None
    trigger.refresh_from_db()
    assert (trigger.status, trigger.attempt_count, trigger.attempts.count()) == (Status.HELD, 3, 3)
    # when re-enabled, they resume
    assert operations.npstoday_key_reenable(account=trigger.account) == 2
    respondent_route(trigger).mock(return_value=httpx.Response(200))
    assert trigger_deliver(trigger_id=trigger.pk) == Status.DELIVERED
    state = policy(trigger)
    assert state.failure_streak == 0 and state.disabled_at is None


def keys_disabled() -> float:
    return REGISTRY.get_sample_value("relay_npstoday_keys_disabled_total") or 0.0


def test_disabling_a_key_is_counted_once(settings, clock):
    settings.NPSTODAY_DISABLE_AFTER_FAILURES = 3
    state = NpsTodayDeliveryFactory()
    before = keys_disabled()
    for _ in range(2):
        npstoday_key_record_failure(state, "HTTP 500")
    assert keys_disabled() == before
    npstoday_key_record_failure(state, "HTTP 500")
    assert NpsTodayDelivery.objects.get(pk=state.pk).disabled_at is not None
    assert keys_disabled() == before + 1
    npstoday_key_record_failure(state, "HTTP 500")  # already disabled: not counted again
    assert keys_disabled() == before + 1


@respx.mock
def test_a_due_survey_of_a_disabled_key_is_held_when_claimed():
    trigger = SurveyTriggerFactory()
    NpsTodayDeliveryFactory(
        account=trigger.account, disabled_at=timezone.now(), disabled_reason="x"
    )
    route = respondent_route(trigger).mock(return_value=httpx.Response(200))
    assert trigger_deliver(trigger_id=trigger.pk) == Status.HELD
    assert not route.called and SurveyTrigger.objects.get(pk=trigger.pk).attempt_count == 0


@respx.mock
def test_a_success_resets_the_streak_and_old_failures_do_not_count(settings, clock):
    settings.NPSTODAY_DISABLE_AFTER_FAILURES = 3
    trigger = SurveyTriggerFactory()
    NpsTodayDeliveryFactory(
        account=trigger.account,
        failure_streak=2,
        failure_streak_started_at=timezone.now() - timedelta(hours=4),
    )
    respondent_route(trigger).mock(return_value=httpx.Response(500))
    trigger_deliver(trigger_id=trigger.pk)
    state = policy(trigger)
    assert (state.failure_streak, state.failure_streak_started_at) == (1, timezone.now())
    assert state.disabled_at is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
@respx.mock
def test_a_failed_try_is_recorded_while_the_account_row_is_locked():
    # given a survey, and its account's row being updated elsewhere (an admin saving it)
    trigger = SurveyTriggerFactory()
    respondent_route(trigger).mock(return_value=httpx.Response(500, text="oops"))
    # when a try fails meanwhile (waiting a second at most for any lock)
    with locked_elsewhere(Account, trigger.account_id, mode="NO KEY UPDATE"):
        outcome = trigger_deliver(trigger_id=trigger.pk)
    # then the try, the retry and the key's failure streak are recorded without the account
    assert outcome == Status.PENDING
    assert policy(trigger).failure_streak == 1
    assert trigger.attempts.get().outcome == "retry"


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_concurrent_failures_each_count_without_locking_the_account(settings):
    """Failures recorded at the same moment by several workers all count."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from ivr.services.delivery import npstoday_key_record_failure

    state = NpsTodayDeliveryFactory()

    def fail(_):
        try:
            npstoday_key_record_failure(state, "HTTP 500")
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(fail, range(12)))
    assert NpsTodayDelivery.objects.get(pk=state.pk).failure_streak == 12


def test_a_trigger_whose_worker_died_is_reclaimed_and_its_try_marked(clock):
    # given a trigger a worker claimed and then lost, mid-send
    trigger = SurveyTriggerFactory()
    SURVEYS.claim(trigger.pk)
    DeliveryAttemptFactory(trigger=trigger)
    # when the claim times out and the dispatcher reclaims
    clock.shift(SURVEYS.claim_timeout + timedelta(seconds=1))
    assert SURVEYS.reclaim() == 1
    # then it is due again at once and the try is marked interrupted
    trigger.refresh_from_db()
    assert (trigger.status, trigger.next_attempt_at) == (Status.PENDING, timezone.now())
    assert DeliveryAttempt.objects.get().outcome == "interrupted"


def test_due_triggers_are_handed_off_once_and_later_ones_wake_the_dispatcher(clock):
    due = SurveyTriggerFactory()
    later = SurveyTriggerFactory(next_attempt_at=timezone.now() + timedelta(minutes=5))
    with mock.patch("ivr.tasks.deliver_surveys.apply_async") as apply_async:
        assert (SURVEYS.hand_off(), SURVEYS.hand_off()) == (1, 0)
    apply_async.assert_called_once_with(args=([due.pk],), retry=False)
    assert SURVEYS.next_due_at() == later.next_attempt_at


def test_account_without_an_npstoday_key_fails_with_a_reason():
    trigger = SurveyTriggerFactory(mapping__account__npstoday_api_key="")
    assert trigger_deliver(trigger_id=trigger.pk) == Status.FAILED
    assert SurveyTrigger.objects.get(pk=trigger.pk).reason == "the account has no nps.today API key"


def test_operations_retry_now_cancel_and_resend(clock):
    trigger = SurveyTriggerFactory(next_attempt_at=timezone.now() + timedelta(hours=1))
    queryset = SurveyTrigger.objects.filter(pk=trigger.pk)
    assert operations.survey_triggers_retry_now(queryset=queryset) == 1
    assert SurveyTrigger.objects.get(pk=trigger.pk).next_attempt_at == timezone.now()
    assert operations.survey_triggers_cancel(queryset=queryset, by="ann") == 1
    assert SurveyTrigger.objects.get(pk=trigger.pk).reason == "cancelled by ann"
    assert operations.survey_triggers_resend(queryset=queryset, by="ann") == 1
    resent = SurveyTrigger.objects.get(pk=trigger.pk)
    assert (resent.status, resent.attempt_count, resent.guid) == ("pending", 0, trigger.guid)


def test_resend_failed_since_takes_only_recent_dead_letters_of_visible_accounts(clock):
    now = timezone.now()
    old = SurveyTriggerFactory(status=Status.FAILED, finished_at=now - timedelta(days=2))
    recent = SurveyTriggerFactory(status=Status.FAILED, finished_at=now)
    foreign = SurveyTriggerFactory(status=Status.FAILED, finished_at=now)
    resent = operations.survey_triggers_resend_failed_since(
        queryset=SurveyTrigger.objects.exclude(account_id=foreign.account_id),
        since=now - timedelta(hours=1),
        by="ann",
    )
    assert resent == [recent.pk]
    assert SurveyTrigger.objects.get(pk=recent.pk).status == Status.PENDING
    assert SurveyTrigger.objects.get(pk=old.pk).status == Status.FAILED
    assert SurveyTrigger.objects.get(pk=foreign.pk).status == Status.FAILED

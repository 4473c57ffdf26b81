from datetime import UTC, datetime, timedelta

import pytest

from ivr.retry_policy import Verdict, decide, retry_after

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
MINUTE = timedelta(seconds=60)


def call(status=None, error=None, retry_after_header=None, attempt=1, max_attempts=5):
    return decide(
        status=status,
        error=error,
        retry_after_header=retry_after_header,
        attempt=attempt,
        max_attempts=max_attempts,
        spacing=MINUTE,
        now=NOW,
    )


@pytest.mark.parametrize("status", [200, 201, 204, 301, 399])
def test_200_to_399_is_success(status):
    decision = call(status)
    assert decision.verdict is Verdict.SUCCESS
    assert decision.reason == f"delivered ({status})"
    assert decision.next_attempt_at is None


@pytest.mark.parametrize("status", [100, 199])
def test_below_200_is_a_failed_try(status):
    decision = call(status)
    assert decision.verdict is Verdict.RETRY
    assert decision.reason == f"try 1 failed: HTTP {status}"


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 425, 400 + 29])
def test_server_errors_and_408_425_429_retry_a_minute_later(status):
    decision = call(status)
    assert decision.verdict is Verdict.RETRY
    assert decision.next_attempt_at == NOW + MINUTE


def test_no_answer_retries_and_says_which_host_and_why():
    # given the client's sentence for no answer
    error = "nps.today (https://api.nps.today) did not answer: no connection within 5 s"
    # when
    decision = call(error=error)
    # then the try is retried, its reason that sentence
    assert decision.verdict is Verdict.RETRY
    assert decision.reason == f"try 1 failed: {error}"
    assert call(error=error, attempt=5).reason == f"gave up after 5 tries; last: {error}"


def test_no_answer_without_a_reason_says_no_answer():
    assert call(error="").reason == "try 1 failed: no answer"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 499])
def test_other_4xx_stop_at_once(status):
    decision = call(status)
    assert decision.verdict is Verdict.FAILED
    assert decision.reason == f"permanent failure: HTTP {status}"


def test_the_fifth_failed_try_is_the_last():
    assert call(503, attempt=4).verdict is Verdict.RETRY
    decision = call(503, attempt=5)
    assert decision.verdict is Verdict.FAILED
    assert decision.reason == "gave up after 5 tries; last: HTTP 503"


def test_429_honours_retry_after_seconds_and_dates():
    assert call(429, retry_after_header="7").next_attempt_at == NOW + timedelta(seconds=7)
    date = "Thu, 01 Jan 2026 12:02:00 GMT"
    assert call(429, retry_after_header=date).next_attempt_at == NOW + timedelta(minutes=2)
    assert call(429, retry_after_header="soon").next_attempt_at == NOW + MINUTE


def test_retry_after_is_honoured_only_on_429():
    # a 503 with Retry-After waits the account's spacing, as Dixa does
    assert call(503, retry_after_header="7").next_attempt_at == NOW + MINUTE
    assert call(408, retry_after_header="7").next_attempt_at == NOW + MINUTE


def test_retry_after_seconds_may_be_padded_with_spaces():
    assert retry_after(" 7 ", NOW) == timedelta(seconds=7)


def test_retry_after_is_capped_and_never_negative():
    assert retry_after("999999", NOW) == timedelta(hours=1)
    assert retry_after("Thu, 01 Jan 2026 11:00:00 GMT", NOW) == timedelta(0)


@pytest.mark.parametrize("value", ["\u00b2", "99999999999999999999", "9" * 5000, "\u0661\u0662"])
def test_a_retry_after_of_impossible_digits_is_capped_or_ignored(value):
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    wait = retry_after(value, now)
    assert wait is None or wait == timedelta(hours=1)

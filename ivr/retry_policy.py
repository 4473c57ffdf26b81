"""Dixa's retry policy, as data: a try fails when there is no answer or the status is
outside 200-399; it is retried after the account's spacing (60 s) up to its tries (5);
4xx other than 408, 425 and 429 stop at once; 429 honours Retry-After."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import Enum

RETRYABLE_4XX = {408, 425, 429}
MAX_RETRY_AFTER = timedelta(hours=1)


class Verdict(Enum):
    SUCCESS = "success"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str
    next_attempt_at: datetime | None = None


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # seconds; a huge number is the cap
        seconds = int(value) if len(value) <= 9 else MAX_RETRY_AFTER.total_seconds()
        return min(timedelta(seconds=seconds), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return min(max(when - now, timedelta(0)), MAX_RETRY_AFTER)


def decide(
    *,
    status: int | None,
    error: str | None,
    retry_after_header: str | None,
    attempt: int,
    max_attempts: int,
    spacing: timedelta,
    now: datetime,
) -> Decision:
    if status is not None and 200 <= status < 400:
        return Decision(Verdict.SUCCESS, f"delivered ({status})")
    # No answer: `error` says so, with the address tried and why (clients.http.no_answer).
    what = f"HTTP {status}" if status is not None else (error or "no answer")
    if status is not None and 400 <= status < 500 and status not in RETRYABLE_4XX:
        return Decision(Verdict.FAILED, f"permanent failure: {what}")
    if attempt >= max_attempts:
        return Decision(Verdict.FAILED, f"gave up after {attempt} tries; last: {what}")
    wait = spacing
    if status == 429:
        wait = retry_after(retry_after_header, now) or spacing
    return Decision(Verdict.RETRY, f"try {attempt} failed: {what}", now + wait)

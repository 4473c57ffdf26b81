"""Delivering survey triggers to nps.today: claim a batch, record each try, send them side
by side, decide each.

A trigger is claimed with a conditional update (pending -> sending), so a duplicate task
changes nothing. The attempt row is written before the request; a worker killed mid-send
leaves the trigger in `sending` and the attempt `in_flight`, and the dispatcher puts it back
after SURVEY_CLAIM_TIMEOUT_SECONDS. The repeated POST carries the same `guid` and
Idempotency-Key, so nps.today does not make a second member.

Before each try the member extras of other apps are asked (`ivr.member_extras`): their
fields are merged into the payload, or the survey waits for them (not a try) until they
come (`survey_triggers_wake`) or the wait is over.
"""

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from integrations import metrics, outbox, ratelimit
from integrations.clients import npstoday
from integrations.clients.http import NO_ANSWER, no_answer
from integrations.models import Account
from ivr import member_extras
from ivr.models import DeliveryAttempt, NpsTodayDelivery, SurveyTrigger
from ivr.retry_policy import Verdict, decide

logger = logging.getLogger(__name__)
Status = SurveyTrigger.Status
Outcome = DeliveryAttempt.Outcome
SAFE_HEADERS = ("content-type", "retry-after", "date", "idempotency-key", "x-request-id")


def _interrupted(pks: list[int]) -> None:
    DeliveryAttempt.objects.filter(trigger_id__in=pks, outcome=Outcome.IN_FLIGHT).update(
        outcome=Outcome.INTERRUPTED,
        error="worker lost during the send; sent again with the same guid",
    )


SURVEYS = outbox.register(
    outbox.Outbox(
        name="surveys",
        model=SurveyTrigger,
        task="ivr.tasks.deliver_surveys",
        settings_prefix="SURVEY",
        pending=Q(status=Status.PENDING),
        schedule_field="next_attempt_at",
        claimed={"status": Status.SENDING},
        claimed_at_field="sending_started_at",
        attempts_field="attempt_count",
        release={"status": Status.PENDING},
        # Each task sends its batch side by side; small batches still spread a backlog over
        # the worker's threads.
        chunk=10,
        on_reclaim=_interrupted,
    )
)


def delivery_policy(account_id: int) -> NpsTodayDelivery:
    policy, _ = NpsTodayDelivery.objects.get_or_create(account_id=account_id)
    return policy


def triggers_deliver(*, trigger_ids: list[int], task_id: str = "") -> dict[int, str]:
    """One try for each trigger among `trigger_ids` that is ours to send, the requests to
    nps.today made side by side, each with its own attempt row, guid and Idempotency-Key.
    A trigger that fails unexpectedly is logged and left claimed (the dispatcher puts it
    back); the others go on. Returns each handled trigger's new status."""
    claimed = SURVEYS.claim_many(trigger_ids)
    if not claimed:
        return {}
    triggers = SurveyTrigger.objects.select_related("account__npstoday_delivery").in_bulk(claimed)
    statuses: dict[int, str] = {}
    sends: list[_Send] = []
    for pk in claimed:
        with _isolated(pk):
            prepared = _prepare(triggers[pk])
            if isinstance(prepared, _Send):
                sends.append(prepared)
            else:
                statuses[pk] = prepared
    if not sends:
        return statuses
    _attempts_create(sends, task_id)
    for send, answer in zip(sends, _send_all(sends), strict=True):
        with _isolated(send.trigger.pk):
            statuses[send.trigger.pk] = _conclude(send, answer)
    return statuses


def trigger_deliver(*, trigger_id: int, task_id: str = "") -> str | None:
    """One try. Returns the trigger's new status, or None when it was not ours to send."""
    return triggers_deliver(trigger_ids=[trigger_id], task_id=task_id).get(trigger_id)


@dataclass
class _Send:
    trigger: SurveyTrigger
    policy: NpsTodayDelivery
    notes: list[str]
    attempt: DeliveryAttempt | None = None


@contextmanager
def _isolated(trigger_id: int):
    """One trigger's unexpected failure stays its own: it is logged and the trigger stays
    claimed until the dispatcher puts it back (SURVEY_CLAIM_TIMEOUT_SECONDS)."""
    try:
        yield
    except Exception:
        logger.exception(
            "survey %s: delivery failed unexpectedly; it will be tried again", trigger_id
        )


def _prepare(trigger: SurveyTrigger) -> "_Send | str":
    """What to send, or the trigger's new status when there is nothing to send now."""
    account = trigger.account
    try:
        policy = account.npstoday_delivery
    except NpsTodayDelivery.DoesNotExist:  # the account's first survey: Dixa's policy
        policy = delivery_policy(account.pk)

    if policy.disabled_at:
        _set(trigger, Status.HELD, reason=f"held: {policy.disabled_reason}", undo_try=True)
        _log(trigger, "held: the account's nps.today key is disabled")
        return Status.HELD
    if not account.npstoday_api_key:
        _set(
            trigger,
            Status.FAILED,
            reason="the account has no nps.today API key",
            finished=True,
            undo_try=True,
        )
        _log(trigger, "failed: the account has no nps.today API key")
        return Status.FAILED

    extras = member_extras.collect(trigger, now=timezone.now())
    if extras.waits:
        _wait(trigger, extras)
        _log(trigger, "waiting for a member extra")
        return Status.PENDING
    if extras.custom:  # saved first: the payload is the record of what was sent
        trigger.payload = member_extras.merged_payload(trigger.payload, extras.custom)
        SurveyTrigger.objects.filter(pk=trigger.pk).update(payload=trigger.payload)

    ratelimit.wait_for_slot(
        "npstoday", account.npstoday_api_key, limit=settings.NPSTODAY_RATE_LIMIT
    )
    return _Send(trigger, policy, list(extras.notes))


def _attempts_create(sends: list[_Send], task_id: str) -> None:
    """Every try's attempt row, in one statement, before any request is made."""
    for send in sends:
        trigger, key = send.trigger, send.trigger.account.npstoday_api_key
        send.attempt = DeliveryAttempt(
            trigger=trigger,
            number=trigger.attempt_count,
            scheduled_for=trigger.next_attempt_at,
            task_id=task_id or "",
            request_url=npstoday.respondent_url(trigger.campaign_id),
            request_headers={
                "Authorization": "apikey ••••" + key[-4:],
                "Idempotency-Key": str(trigger.guid),
                "Content-Type": "application/json",
            },
            request_body=trigger.payload,
        )
    if len(sends) == 1:  # one INSERT, without bulk_create's transaction around it
        sends[0].attempt.save()
    else:
        DeliveryAttempt.objects.bulk_create([send.attempt for send in sends])


def _send_all(sends: list[_Send]) -> list[tuple]:
    """The answers, in order; the requests side by side (they only wait on the network)."""
    if len(sends) == 1:
        return [_send(sends[0].trigger.account, sends[0].trigger)]
    return list(_senders().map(lambda send: _send(send.trigger.account, send.trigger), sends))


_pool: tuple[int, ThreadPoolExecutor] | None = None
_pool_lock = threading.Lock()


def _senders() -> ThreadPoolExecutor:
    """The process's threads for requests to nps.today, shared by its tasks: at most
    NPSTODAY_CONCURRENT_SENDS in flight from one process, however many batches it runs."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():  # a forked child makes its own
            workers = settings.NPSTODAY_CONCURRENT_SENDS
            _pool = (os.getpid(), ThreadPoolExecutor(workers, thread_name_prefix="npstoday"))
        return _pool[1]


def _conclude(send: _Send, answer: tuple) -> str:
    trigger, policy, attempt = send.trigger, send.policy, send.attempt
    status_code, headers, body, error = answer
    attempt.duration_ms = _elapsed_ms(attempt)
    status, failure = _record(
        trigger, policy, attempt, status_code, headers, body, error, notes=send.notes
    )
    # Outside _record's transaction: the policy row is locked for one statement only.
    if failure is None:
        npstoday_key_record_success(policy)
    else:
        npstoday_key_record_failure(policy, failure)
    result = {
        Status.DELIVERED: "delivered",
        Status.PENDING: "retry",
        Status.FAILED: "failed",
    }.get(status, status)
    metrics.survey_tries.labels(result).inc()
    _log(
        trigger,
        result,
        attempt=attempt,
        answer=f"HTTP {status_code}" if status_code else (error or "no answer"),
    )
    return status


def _log(trigger: SurveyTrigger, what: str, *, attempt=None, answer: str = "") -> None:
    """One line per delivery decision, with the ids and no personal data."""
    ids = {"account": trigger.account_id, "survey_id": trigger.pk}
    logger.info(
        "survey %s: account %s, survey %s, campaign %s%s%s",
        what,
        trigger.account_id,
        trigger.pk,
        trigger.campaign_id,
        f", attempt {attempt.pk} (try {attempt.number}, {attempt.duration_ms} ms)"
        if attempt
        else "",
        f", {answer}" if answer else "",
        extra=ids,
    )


@sensitive_variables("account")
def _send(account: Account, trigger: SurveyTrigger):
    began = time.perf_counter()
    try:
        response = npstoday.add_campaign_member(
            api_key=account.npstoday_api_key,
            campaign_id=trigger.campaign_id,
            body=trigger.payload,
            idempotency_key=str(trigger.guid),
        )
    except NO_ANSWER as exc:  # no answer
        metrics.npstoday_latency.labels("add_member").observe(time.perf_counter() - began)
        url = npstoday.respondent_url(trigger.campaign_id)
        return None, {}, "", no_answer("nps.today", exc, url)[:500]
    except Exception as exc:  # the request could not even be made: a failed try as well
        logger.warning("survey %s: the request to nps.today could not be made", trigger.pk)
        return None, {}, "", f"the request could not be made ({type(exc).__name__})"
    metrics.npstoday_latency.labels("add_member").observe(time.perf_counter() - began)
    headers = {k.lower(): v for k, v in response.headers.items()}
    return response.status_code, headers, response.text, ""


def _elapsed_ms(attempt: DeliveryAttempt) -> int:
    return max(0, int((timezone.now() - attempt.created_at).total_seconds() * 1000))


def _wait(trigger: SurveyTrigger, extras: member_extras.Collected) -> None:
    """Not a try: back to pending until the providers' wait is over (or it is woken)."""
    until = extras.wait_until
    wait = max(0.0, (until - timezone.now()).total_seconds())
    countdown = wait <= settings.SURVEY_COUNTDOWN_MAX_SECONDS
    _set(
        trigger,
        Status.PENDING,
        reason=extras.waiting_reason,
        next_attempt_at=until,
        queued_at=until if countdown else None,
        undo_try=True,
    )
    if countdown:
        SURVEYS.publish_on_commit([trigger.pk], countdown=wait)
    # What it waits for may have arrived while the trigger was claimed, when nobody could
    # wake it: ask once more now that it is pending again.
    if not member_extras.collect(trigger, now=timezone.now()).waits:
        _wake(SurveyTrigger.objects.filter(pk=trigger.pk))


def survey_triggers_wake(*, account_id: int, csid: int) -> int:
    """The conversation's surveys waiting for a member extra go now: what they waited for
    is there. Surveys delayed, or waiting for a retry, are left alone. Returns how many."""
    return _wake(SurveyTrigger.objects.filter(account_id=account_id, csid=csid))


def _wake(triggers) -> int:
    waiting = triggers.filter(status=Status.PENDING, reason__startswith=member_extras.WAITING)
    pks = list(waiting.values_list("pk", flat=True))
    now = timezone.now()
    SurveyTrigger.objects.filter(pk__in=pks, status=Status.PENDING).update(
        next_attempt_at=now, queued_at=now
    )
    SURVEYS.publish_on_commit(pks)
    return len(pks)


@transaction.atomic
def _record(trigger, policy, attempt, status_code, headers, body, error, *, notes=()):
    """Write the try's outcome and the trigger's new state. Returns the new status and,
    for a failed try, its reason (`notes` are added to the trigger's reason)."""
    now = timezone.now()
    decision = decide(
        status=status_code,
        error=error,
        retry_after_header=headers.get("retry-after"),
        attempt=trigger.attempt_count,
        max_attempts=policy.max_attempts,
        spacing=timedelta(seconds=policy.retry_seconds),
        now=now,
    )
    attempt.response_status_code = status_code
    attempt.response_headers = {k: v for k, v in headers.items() if k.lower() in SAFE_HEADERS}
    attempt.response_body = body[: settings.DELIVERY_RESPONSE_BODY_LIMIT]
    attempt.error = error
    attempt.outcome = {
        Verdict.SUCCESS: Outcome.SUCCESS,
        Verdict.RETRY: Outcome.RETRY,
        Verdict.FAILED: Outcome.FAILED,
    }[decision.verdict]
    attempt.save(
        update_fields=[
            "duration_ms",
            "response_status_code",
            "response_headers",
            "response_body",
            "error",
            "outcome",
        ]
    )

    trigger.last_status_code = status_code
    reason = "; ".join([decision.reason, *notes])
    if decision.verdict is Verdict.SUCCESS:
        _set(trigger, Status.DELIVERED, reason=reason, finished=True)
        return Status.DELIVERED, None
    if decision.verdict is Verdict.FAILED:
        _set(trigger, Status.FAILED, reason=reason, finished=True)
        return Status.FAILED, decision.reason
    wait = max(0.0, (decision.next_attempt_at - now).total_seconds())
    countdown = wait <= settings.SURVEY_COUNTDOWN_MAX_SECONDS
    _set(
        trigger,
        Status.PENDING,
        reason=reason,
        next_attempt_at=decision.next_attempt_at,
        # A short wait also goes to Celery as a countdown; the row is what counts, and the
        # dispatcher sends it when it falls due if that message is lost.
        queued_at=decision.next_attempt_at if countdown else None,
    )
    if countdown:
        SURVEYS.publish_on_commit([trigger.pk], countdown=wait)
    return Status.PENDING, decision.reason


def _set(
    trigger,
    status,
    *,
    reason="",
    next_attempt_at=None,
    queued_at=None,
    finished=False,
    undo_try=False,
):
    updates = {"status": status, "reason": reason, "last_status_code": trigger.last_status_code}
    if next_attempt_at is not None:
        updates["next_attempt_at"] = next_attempt_at
    if status == Status.PENDING:
        # Stamped when a countdown carries the next try; otherwise unstamped, so that the
        # dispatcher hands it off when it falls due (an old stamp would hide it till then,
        # and then read as a lost message).
        updates["queued_at"] = queued_at
    if finished:
        updates["finished_at"] = timezone.now()
    if undo_try:  # nothing was sent: this was not a try
        updates["attempt_count"] = F("attempt_count") - 1
    SurveyTrigger.objects.filter(pk=trigger.pk).update(**updates)
    if status == Status.FAILED:
        metrics.dead_letters.inc()


# --- the nps.today key's health: auto-disable after a long failure streak ----------------


def npstoday_key_record_success(policy: NpsTodayDelivery) -> None:
    if policy.failure_streak:
        NpsTodayDelivery.objects.filter(pk=policy.pk).update(
            failure_streak=0, failure_streak_started_at=None
        )


def npstoday_key_record_failure(policy: NpsTodayDelivery, reason: str) -> None:
    """Count the failure in one statement (concurrent failures each count, no lock held
    past it); a streak that reaches NPSTODAY_DISABLE_AFTER_FAILURES within the window
    disables the key."""
    now = timezone.now()
    window_start = now - timedelta(hours=settings.NPSTODAY_DISABLE_WINDOW_HOURS)
    new_streak = Q(failure_streak_started_at=None) | Q(failure_streak_started_at__lt=window_start)
    rows = NpsTodayDelivery.objects.filter(pk=policy.pk)
    rows.update(
        failure_streak=Case(When(new_streak, then=Value(1)), default=F("failure_streak") + 1),
        failure_streak_started_at=Case(
            When(new_streak, then=Value(now)), default=F("failure_streak_started_at")
        ),
    )
    streak_start = rows.values_list("failure_streak_started_at", flat=True).first()
    disabled = rows.filter(
        disabled_at=None, failure_streak__gte=settings.NPSTODAY_DISABLE_AFTER_FAILURES
    ).update(
        disabled_at=now,
        disabled_reason=(
            f"nps.today key disabled after {settings.NPSTODAY_DISABLE_AFTER_FAILURES} failed "
            f"deliveries in a row since {streak_start:%Y-%m-%d %H:%M} UTC; last: {reason}"
        ),
    )
    if disabled:
        metrics.keys_disabled.inc()
        logger.error("account %s: nps.today key disabled; last failure: %s", policy.pk, reason)
        _hold_pending(policy.pk)


def _hold_pending(account_id: int) -> int:
    return SurveyTrigger.objects.filter(account_id=account_id, status=Status.PENDING).update(
        status=Status.HELD, reason="held: the account's nps.today key is disabled"
    )

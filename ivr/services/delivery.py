"""Delivering a survey trigger to nps.today: claim, record the try, send, decide.

A trigger is claimed with a conditional update (pending -> sending), so a duplicate task
changes nothing. The attempt row is written before the request; a worker killed mid-send
leaves the trigger in `sending` and the attempt `in_flight`, and the sweeper puts it back
after TRIGGER_SENDING_TIMEOUT_SECONDS. The repeated POST carries the same `guid` and
Idempotency-Key, so nps.today does not make a second member.
"""

import logging
from datetime import timedelta
from functools import partial

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from integrations.clients import npstoday
from integrations.models import Account
from integrations.services.queueing import enqueue
from ivr import ratelimit
from ivr.models import DeliveryAttempt, SurveyTrigger
from ivr.retry_policy import Verdict, decide

logger = logging.getLogger(__name__)
Status = SurveyTrigger.Status
Outcome = DeliveryAttempt.Outcome
SAFE_HEADERS = ("content-type", "retry-after", "date", "idempotency-key", "x-request-id")


def trigger_deliver(*, trigger_id: int, task_id: str = "") -> str | None:
    """One try. Returns the trigger's new status, or None when it was not ours to send."""
    now = timezone.now()
    claimed = SurveyTrigger.objects.filter(
        pk=trigger_id, status=Status.PENDING, next_attempt_at__lte=now
    ).update(status=Status.SENDING, sending_started_at=now, attempt_count=F("attempt_count") + 1)
    if not claimed:
        return None
    trigger = SurveyTrigger.objects.select_related("account").get(pk=trigger_id)
    account = trigger.account

    if account.npstoday_disabled_at:
        _set(
            trigger, Status.HELD, reason=f"held: {account.npstoday_disabled_reason}", undo_try=True
        )
        return Status.HELD
    if not account.npstoday_api_key:
        _set(
            trigger,
            Status.FAILED,
            reason="the account has no nps.today API key",
            finished=True,
            undo_try=True,
        )
        return Status.FAILED

    ratelimit.wait_for_slot(account.npstoday_api_key)
    attempt = DeliveryAttempt.objects.create(
        trigger=trigger,
        number=trigger.attempt_count,
        scheduled_for=trigger.next_attempt_at,
        task_id=task_id or "",
        request_url=npstoday.respondent_url(trigger.campaign_id),
        request_headers={
            "Authorization": "apikey ••••" + account.npstoday_api_key[-4:],
            "Idempotency-Key": str(trigger.guid),
            "Content-Type": "application/json",
        },
        request_body=trigger.payload,
    )
    status_code, headers, body, error = _send(account, trigger)
    attempt.duration_ms = _elapsed_ms(attempt)
    return _record(trigger, account, attempt, status_code, headers, body, error)


def _send(account: Account, trigger: SurveyTrigger):
    try:
        response = npstoday.add_campaign_member(
            api_key=account.npstoday_api_key,
            campaign_id=trigger.campaign_id,
            body=trigger.payload,
            idempotency_key=str(trigger.guid),
        )
    except httpx.HTTPError as exc:
        return None, {}, "", f"{type(exc).__name__}: {exc}"[:500]
    headers = {k.lower(): v for k, v in response.headers.items()}
    return response.status_code, headers, response.text, ""


def _elapsed_ms(attempt: DeliveryAttempt) -> int:
    return max(0, int((timezone.now() - attempt.created_at).total_seconds() * 1000))


@transaction.atomic
def _record(trigger, account, attempt, status_code, headers, body, error) -> str:
    now = timezone.now()
    decision = decide(
        status=status_code,
        error=error,
        retry_after_header=headers.get("retry-after"),
        attempt=trigger.attempt_count,
        max_attempts=account.npstoday_max_attempts,
        spacing=timedelta(seconds=account.npstoday_retry_seconds),
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
    attempt.save()

    trigger.last_status_code = status_code
    if decision.verdict is Verdict.SUCCESS:
        _set(trigger, Status.DELIVERED, reason=decision.reason, finished=True)
        npstoday_key_record_success(account)
        return Status.DELIVERED
    npstoday_key_record_failure(account, decision.reason)
    if decision.verdict is Verdict.FAILED:
        _set(trigger, Status.FAILED, reason=decision.reason, finished=True)
        return Status.FAILED
    wait = max(0.0, (decision.next_attempt_at - now).total_seconds())
    countdown = wait <= settings.TRIGGER_COUNTDOWN_MAX_SECONDS
    _set(
        trigger,
        Status.PENDING,
        reason=decision.reason,
        next_attempt_at=decision.next_attempt_at,
        # A short wait also goes to Celery as a countdown (the fast path); the row is what
        # counts, and the sweeper sends it if that message is lost.
        queued_at=decision.next_attempt_at if countdown else None,
    )
    if countdown:
        from ivr.tasks import deliver_trigger

        transaction.on_commit(partial(enqueue, deliver_trigger, trigger.pk, countdown=wait))
    return Status.PENDING


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
    if queued_at is not None:
        updates["queued_at"] = queued_at
    if finished:
        updates["finished_at"] = timezone.now()
    if undo_try:  # nothing was sent: this was not a try
        updates["attempt_count"] = F("attempt_count") - 1
    SurveyTrigger.objects.filter(pk=trigger.pk).update(**updates)


# --- the nps.today key's health: auto-disable after a long failure streak ----------------


def npstoday_key_record_success(account: Account) -> None:
    if account.npstoday_failure_streak:
        Account.objects.filter(pk=account.pk).update(
            npstoday_failure_streak=0, npstoday_failure_streak_started_at=None
        )


def npstoday_key_record_failure(account: Account, reason: str) -> None:
    now = timezone.now()
    window = timedelta(hours=settings.NPSTODAY_DISABLE_WINDOW_HOURS)
    # Locked, so that workers failing at the same moment each count (we are inside _record's
    # transaction, which holds the lock until the outcome is committed).
    account = Account.objects.select_for_update().get(pk=account.pk)
    started = account.npstoday_failure_streak_started_at
    if started is None or now - started > window:
        streak, started = 1, now
    else:
        streak = account.npstoday_failure_streak + 1
    updates = {"npstoday_failure_streak": streak, "npstoday_failure_streak_started_at": started}
    if streak >= settings.NPSTODAY_DISABLE_AFTER_FAILURES and not account.npstoday_disabled_at:
        updates["npstoday_disabled_at"] = now
        updates["npstoday_disabled_reason"] = (
            f"nps.today key disabled after {streak} failed deliveries in a row since "
            f"{started:%Y-%m-%d %H:%M} UTC; last: {reason}"
        )
        logger.error("account %s: %s", account.pk, updates["npstoday_disabled_reason"])
    Account.objects.filter(pk=account.pk).update(**updates)


# --- the sweeper ---------------------------------------------------------------------


def survey_triggers_sweep(*, now=None) -> dict[str, int]:
    """Queue due triggers, reclaim ones a dead worker held, hold those of disabled keys."""
    from ivr.tasks import deliver_trigger

    now = now or timezone.now()
    stuck_before = now - timedelta(seconds=settings.TRIGGER_SENDING_TIMEOUT_SECONDS)
    stuck = list(
        SurveyTrigger.objects.filter(
            status=Status.SENDING, sending_started_at__lt=stuck_before
        ).values_list("pk", flat=True)
    )
    if stuck:
        DeliveryAttempt.objects.filter(trigger_id__in=stuck, outcome=Outcome.IN_FLIGHT).update(
            outcome=Outcome.INTERRUPTED,
            error="worker lost during the send; sent again with the same guid",
        )
        SurveyTrigger.objects.filter(pk__in=stuck, status=Status.SENDING).update(
            status=Status.PENDING, next_attempt_at=now, queued_at=None
        )

    held = SurveyTrigger.objects.filter(
        status=Status.PENDING, account__npstoday_disabled_at__isnull=False
    ).update(status=Status.HELD, reason="held: the account's nps.today key is disabled")

    due = SurveyTrigger.objects.filter(status=Status.PENDING, next_attempt_at__lte=now).exclude(
        queued_at__gt=now - timedelta(seconds=settings.TRIGGER_REQUEUE_AFTER_SECONDS)
    )
    pks = list(due.order_by("next_attempt_at").values_list("pk", flat=True)[:500])
    queued = 0
    if pks:
        SurveyTrigger.objects.filter(pk__in=pks).update(queued_at=now)
        for pk in pks:
            if not enqueue(deliver_trigger, pk):
                SurveyTrigger.objects.filter(pk__in=pks, status=Status.PENDING).update(
                    queued_at=None
                )
                break
            queued += 1
    return {"queued": queued, "reclaimed": len(stuck), "held": held}

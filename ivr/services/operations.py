"""What admins (and commands) do to triggers and keys. Each returns how many rows changed."""

from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from integrations.models import Account
from ivr.models import NpsTodayDelivery, SurveyTrigger
from ivr.services.delivery import SURVEYS

Status = SurveyTrigger.Status
# Which triggers each operation changes (the others it leaves alone).
RETRYABLE = [Status.PENDING]
CANCELLABLE = [Status.PENDING, Status.HELD]
RESENDABLE = [Status.FAILED, Status.CANCELLED]


@transaction.atomic
def survey_triggers_retry_now(*, queryset: QuerySet[SurveyTrigger]) -> int:
    """Pending triggers (waiting for a retry or a delay) go now."""
    pks = list(queryset.filter(status__in=RETRYABLE).values_list("pk", flat=True))
    now = timezone.now()
    SurveyTrigger.objects.filter(pk__in=pks).update(next_attempt_at=now, queued_at=now)
    SURVEYS.publish_on_commit(pks)
    return len(pks)


@transaction.atomic
def survey_triggers_cancel(*, queryset: QuerySet[SurveyTrigger], by: str) -> int:
    return queryset.filter(status__in=CANCELLABLE).update(
        status=Status.CANCELLED, reason=f"cancelled by {by}", finished_at=timezone.now()
    )


@transaction.atomic
def survey_triggers_resend(*, queryset: QuerySet[SurveyTrigger], by: str) -> int:
    """Dead letters (and cancelled ones) start over with fresh tries and the same guid, so
    nps.today still cannot make a second member for them."""
    pks = list(queryset.filter(status__in=RESENDABLE).values_list("pk", flat=True))
    SurveyTrigger.objects.filter(pk__in=pks).update(
        status=Status.PENDING,
        attempt_count=0,
        next_attempt_at=timezone.now(),
        queued_at=timezone.now(),
        finished_at=None,
        reason=f"resent by {by}",
    )
    SURVEYS.publish_on_commit(pks)
    return len(pks)


def survey_triggers_resend_failed_since(
    *, queryset: QuerySet[SurveyTrigger], since: datetime, by: str
) -> list[int]:
    """The dead letters among `queryset` that failed since `since` start over; their ids.
    Call it in the transaction that audits them: they stay locked until it ends, so the
    surveys the audit names are the ones resent (one failing meanwhile waits for the next
    resend)."""
    pks = list(
        queryset.filter(status=Status.FAILED, finished_at__gte=since)
        .select_for_update()
        .values_list("pk", flat=True)
    )
    survey_triggers_resend(queryset=SurveyTrigger.objects.filter(pk__in=pks), by=by)
    return pks


@transaction.atomic
def npstoday_key_reenable(*, account: Account) -> int:
    """Clear the disable and release the triggers held meanwhile. Returns how many."""
    NpsTodayDelivery.objects.filter(pk=account.pk).update(
        disabled_at=None, disabled_reason="", failure_streak=0, failure_streak_started_at=None
    )
    pks = list(
        SurveyTrigger.objects.filter(account=account, status=Status.HELD).values_list(
            "pk", flat=True
        )
    )
    SurveyTrigger.objects.filter(pk__in=pks).update(
        status=Status.PENDING,
        next_attempt_at=timezone.now(),
        queued_at=timezone.now(),
        reason="released",
    )
    SURVEYS.publish_on_commit(pks)
    return len(pks)

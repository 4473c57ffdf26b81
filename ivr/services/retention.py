"""Retention for the relay: the delivery attempts of finished surveys go after
RETENTION_ATTEMPT_DAYS. The trigger stays, with its status, attempt_count, last_status_code
and reason. Registered with integrations' retention when imported (from IvrConfig.ready)."""

from datetime import datetime

from django.conf import settings
from django.db.models import QuerySet

from integrations import retention
from ivr.models import DeliveryAttempt, SurveyTrigger

Status = SurveyTrigger.Status
FINISHED = [Status.DELIVERED, Status.FAILED, Status.CANCELLED]


def expired_delivery_attempts(now: datetime) -> QuerySet[DeliveryAttempt]:
    """Attempts of triggers that finished more than RETENTION_ATTEMPT_DAYS ago."""
    before = retention.cutoff(settings.RETENTION_ATTEMPT_DAYS, now)
    if before is None:
        return DeliveryAttempt.objects.none()
    attempts = DeliveryAttempt.objects.filter(
        trigger__status__in=FINISHED, trigger__finished_at__lt=before
    )
    # A trigger finishes after its attempts, so none made since `before` can be expired.
    bound = retention.first_pk_since(DeliveryAttempt.objects.all(), "created_at", before)
    return attempts if bound is None else attempts.filter(pk__lt=bound)


def delivery_attempts_purge(now: datetime, batch_size: int) -> int:
    return retention.batch_delete(expired_delivery_attempts(now), batch_size)


def delivery_attempts_expired_count(now: datetime) -> int:
    return expired_delivery_attempts(now).count()


retention.register(
    "delivery_attempts", delivery_attempts_purge, count=delivery_attempts_expired_count
)

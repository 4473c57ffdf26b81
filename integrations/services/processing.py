"""Processing stored events: claim, route by type, record the outcome. Idempotent."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from integrations import events
from integrations.models import InboundEvent
from integrations.services.queueing import enqueue

logger = logging.getLogger(__name__)

Status = InboundEvent.Status
Outcome = InboundEvent.Outcome
DISPATCH_BATCH = 500
SWEEP_BATCH = 500
DISPATCH_CHUNK = 20  # ids per task, so that several workers share a backlog


def inbound_event_process(*, event_pk: int) -> bool:
    """Process one event if nobody else has it. Returns whether this call processed it."""
    now = timezone.now()
    claimed = InboundEvent.objects.filter(pk=event_pk, status=Status.RECEIVED).update(
        status=Status.PROCESSING,
        processing_started_at=now,
        processing_attempts=F("processing_attempts") + 1,
    )
    if not claimed:
        return False
    event = InboundEvent.objects.select_related("account").get(pk=event_pk)
    try:
        with transaction.atomic():
            result = _route(event)
            _finish(event, Status.PROCESSED, result.outcome, result.reason)
    except Exception as exc:
        logger.exception("processing inbound event %s failed", event_pk)
        _finish(event, Status.FAILED, Outcome.ERROR, f"{type(exc).__name__}: {exc}")
    return True


def _route(event: InboundEvent) -> events.HandlerResult:
    if not event.is_known_type:
        return events.HandlerResult(
            Outcome.UNKNOWN_TYPE,
            f"{event.event_fqn!r} is not in Dixa's event catalogue; stored for inspection",
        )
    handler = events.handler_for(event.event_type)
    if handler is None:
        return events.HandlerResult(
            Outcome.NO_HANDLER, f"recorded; no handler for {event.event_type}"
        )
    return handler(event)


def _finish(event: InboundEvent, status: str, outcome: str, reason: str) -> None:
    InboundEvent.objects.filter(pk=event.pk).update(
        status=status, outcome=outcome, outcome_reason=reason, processed_at=timezone.now()
    )


def inbound_events_dispatch(*, now=None, limit: int = DISPATCH_BATCH) -> int | None:
    """Hand events no worker has been given yet to Celery, oldest first. The worker's
    dispatcher thread calls this every INBOUND_DISPATCH_INTERVAL_SECONDS. Returns how many
    were handed over, or None when the broker refused them (they stay unqueued)."""
    awaiting = InboundEvent.objects.filter(status=Status.RECEIVED, queued_at=None)
    return _hand_off(awaiting, now=now or timezone.now(), limit=limit)


@dataclass(frozen=True)
class SweepResult:
    requeued: int
    reclaimed: int


def inbound_events_sweep(*, now=None) -> SweepResult:
    """The safety net behind the dispatcher: reclaim events a dead worker held, queue events
    no dispatcher took within INBOUND_SWEEP_GRACE_SECONDS, and queue again events whose
    message was lost (handed over INBOUND_REQUEUE_AFTER_SECONDS ago, never claimed)."""
    now = now or timezone.now()
    stuck_before = now - timedelta(seconds=settings.INBOUND_PROCESSING_TIMEOUT_SECONDS)
    reclaimed = InboundEvent.objects.filter(
        status=Status.PROCESSING, processing_started_at__lt=stuck_before
    ).update(status=Status.RECEIVED, queued_at=None)

    grace = timedelta(seconds=settings.INBOUND_SWEEP_GRACE_SECONDS)
    requeue_after = timedelta(seconds=settings.INBOUND_REQUEUE_AFTER_SECONDS)
    due = InboundEvent.objects.filter(status=Status.RECEIVED).filter(
        Q(queued_at=None, received_at__lt=now - grace) | Q(queued_at__lt=now - requeue_after)
    )
    requeued = _hand_off(due, now=now, limit=SWEEP_BATCH) or 0
    if requeued or reclaimed:
        logger.info("sweep: %d queued, %d reclaimed from dead workers", requeued, reclaimed)
    return SweepResult(requeued=requeued, reclaimed=reclaimed)


def _hand_off(queryset: QuerySet[InboundEvent], *, now, limit: int) -> int | None:
    """Mark up to `limit` events queued and publish them in chunks. Concurrent callers (two
    workers' dispatchers, a sweep) never take the same rows (SKIP LOCKED on PostgreSQL; one
    writer at a time on SQLite). What the broker refuses is unmarked for the next pass."""
    from integrations.tasks import process_inbound_events

    if not queryset.exists():  # the usual answer: a plain read, no lock, no transaction
        return 0
    with transaction.atomic():
        pks = list(
            queryset.order_by("pk")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:limit]
        )
        InboundEvent.objects.filter(pk__in=pks).update(queued_at=now)
    for start in range(0, len(pks), DISPATCH_CHUNK):
        if not enqueue(process_inbound_events, pks[start : start + DISPATCH_CHUNK]):
            InboundEvent.objects.filter(pk__in=pks[start:], status=Status.RECEIVED).update(
                queued_at=None
            )
            return None
    return len(pks)


@transaction.atomic
def inbound_events_reprocess(*, queryset: QuerySet[InboundEvent]) -> int:
    """Send events through their handlers again (handlers are idempotent): back to
    `received` and unqueued, so that the dispatcher hands them to a worker."""
    pks = list(queryset.exclude(status=Status.PROCESSING).values_list("pk", flat=True))
    InboundEvent.objects.filter(pk__in=pks).update(
        status=Status.RECEIVED, outcome="", outcome_reason="", queued_at=None
    )
    return len(pks)

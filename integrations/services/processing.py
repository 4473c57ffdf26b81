"""Processing stored events: claim, route by type, record the outcome. Idempotent."""

import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

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
SWEEP_BATCH = 500
SWEEP_CHUNK = 20  # ids per task, so that several workers share a backlog
RESWEEP_AFTER = timedelta(seconds=60)


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


@dataclass(frozen=True)
class SweepResult:
    requeued: int
    reclaimed: int


def inbound_events_sweep(*, now=None) -> SweepResult:
    """Re-enqueue events committed but not picked up, and reclaim ones a dead worker held."""
    from integrations.tasks import process_inbound_events

    now = now or timezone.now()
    stuck_before = now - timedelta(seconds=settings.INBOUND_PROCESSING_TIMEOUT_SECONDS)
    reclaimed = InboundEvent.objects.filter(
        status=Status.PROCESSING, processing_started_at__lt=stuck_before
    ).update(status=Status.RECEIVED, swept_at=None)

    received_before = now - timedelta(seconds=settings.INBOUND_SWEEP_GRACE_SECONDS)
    due = InboundEvent.objects.filter(
        status=Status.RECEIVED, received_at__lt=received_before
    ).filter(Q(swept_at=None) | Q(swept_at__lt=now - RESWEEP_AFTER))
    pks = list(due.order_by("received_at").values_list("pk", flat=True)[:SWEEP_BATCH])
    if pks:
        InboundEvent.objects.filter(pk__in=pks).update(swept_at=now)
        for chunk in _chunks(pks, SWEEP_CHUNK):
            if not enqueue(process_inbound_events, chunk):
                # Broker down: let the next sweep try these again.
                InboundEvent.objects.filter(pk__in=pks, status=Status.RECEIVED).update(
                    swept_at=None
                )
                break
    if pks or reclaimed:
        logger.info("sweep: %d re-enqueued, %d reclaimed from dead workers", len(pks), reclaimed)
    return SweepResult(requeued=len(pks), reclaimed=reclaimed)


@transaction.atomic
def inbound_events_reprocess(*, queryset: QuerySet[InboundEvent]) -> int:
    """Send events through their handlers again (handlers are idempotent)."""
    from integrations.tasks import process_inbound_events

    pks = list(queryset.exclude(status=Status.PROCESSING).values_list("pk", flat=True))
    InboundEvent.objects.filter(pk__in=pks).update(
        status=Status.RECEIVED, outcome="", outcome_reason="", swept_at=None
    )
    for chunk in _chunks(pks, SWEEP_CHUNK):
        transaction.on_commit(partial(enqueue, process_inbound_events, chunk))
    return len(pks)


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]

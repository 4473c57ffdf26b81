"""Processing stored events: claim a batch, then per event parse once, run every
subscriber, record each outcome.

An event's subscribers, their outcomes and the event's own are one transaction; each
subscriber runs in a savepoint, so one that raises is recorded as `error` with the reason,
its writes undone, and the others still run. The event's own outcome sums its subscribers'
up. An event that cannot even be loaded or parsed ends as `error` with the reason, once;
one event failing never stops the others of its batch.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from structlog.contextvars import bound_contextvars

from integrations import events, metrics, outbox
from integrations.dixa import envelope as envelope_parser
from integrations.dixa.conversation import Conversation
from integrations.dixa.envelope import storable
from integrations.models import HandlerRun, InboundEvent, InboundEventBody
from integrations.structured_logs import REQUEST_ID_HEADER

logger = logging.getLogger(__name__)

Status = InboundEvent.Status
Outcome = InboundEvent.Outcome
RunOutcome = HandlerRun.Outcome


def _give_up_on_poison(pks: list[int]) -> None:
    """An event whose worker died on it again and again is not tried forever."""
    limit = settings.INBOUND_MAX_CLAIMS
    InboundEvent.objects.filter(pk__in=pks, processing_attempts__gte=limit).update(
        status=Status.FAILED,
        outcome=Outcome.ERROR,
        outcome_reason=f"gave up after {limit} tries: the worker was lost each time",
        processed_at=timezone.now(),
    )


INBOUND = outbox.register(
    outbox.Outbox(
        name="inbound events",
        model=InboundEvent,
        task="integrations.tasks.process_inbound_events",
        settings_prefix="INBOUND",
        pending=Q(status=Status.RECEIVED),
        claimed={"status": Status.PROCESSING},
        claimed_at_field="processing_started_at",
        attempts_field="processing_attempts",
        release={"status": Status.RECEIVED},
        due_since_field="received_at",
        on_reclaim=_give_up_on_poison,
        # A backlog still shares the cost of a message and a claim, and is spread over the
        # events worker's processes instead of waiting behind one of them.
        chunk=5,
    )
)


def inbound_events_process(event_pks: list[int]) -> list[int]:
    """Process the events among `event_pks` that nobody else has, one after the other, each
    in its own transaction; one that fails is recorded and the others go on. Work their
    handlers publish goes out together at the end. Returns the ids this call processed."""
    claimed = INBOUND.claim_many(event_pks)
    if not claimed:
        return []
    # The events and their bodies in one query.
    records = InboundEvent.objects.select_related("body").in_bulk(claimed)
    with outbox.publishing_together():
        for pk in claimed:
            if pk in records:
                _process(records[pk])
    return claimed


def inbound_event_process(*, event_pk: int) -> bool:
    """Process one event if nobody else has it. Returns whether this call processed it."""
    return bool(inbound_events_process([event_pk]))


def _process(record: InboundEvent) -> None:
    # Every line logged while this event is processed (its handlers' too) names it, and the
    # request that delivered it.
    try:
        request_id = record.body.headers.get(REQUEST_ID_HEADER) or None
    except InboundEventBody.DoesNotExist:
        request_id = None
    with bound_contextvars(event_id=record.pk, account=record.account_id, request_id=request_id):
        _process_bound(record)


def _process_bound(record: InboundEvent) -> None:
    try:
        dixa_event = _parse(record)
    except Exception as exc:  # unreadable row or body: recorded, never retried forever
        logger.exception("inbound event %s could not be loaded", record.pk)
        _finish(record.pk, Status.FAILED, Outcome.ERROR, f"could not load the event: {_why(exc)}")
        return
    if dixa_event is None:
        return
    try:
        # The subscribers' work (each in a savepoint), their outcomes and the event's own,
        # committed together.
        with transaction.atomic():
            _finish(record.pk, *_run_subscribers(dixa_event))
    except Exception as exc:  # e.g. recording the outcomes failed: the event says so
        logger.exception("inbound event %s: its outcome could not be recorded", record.pk)
        _finish(record.pk, Status.FAILED, Outcome.ERROR, _why(exc))


def _parse(record: InboundEvent) -> events.DixaEvent | None:
    """The event parsed once; None when no subscriber needs it (then it is already
    finished)."""
    if not record.is_known_type:
        _finish(
            record.pk,
            Status.PROCESSED,
            Outcome.UNKNOWN_TYPE,
            f"{record.event_fqn!r} is not in Dixa's event catalogue; stored for inspection",
        )
        return None
    if not events.subscriptions_for(record.event_type):
        _finish(
            record.pk,
            Status.PROCESSED,
            Outcome.NO_HANDLER,
            f"recorded; no handler for {record.event_type}",
        )
        return None
    try:
        raw_body = bytes(record.body.raw_body)
    except InboundEventBody.DoesNotExist as exc:
        raise LookupError("its body was removed by retention") from exc
    envelope = envelope_parser.parse(raw_body)
    return events.DixaEvent(record, envelope, Conversation.from_envelope(envelope))


def _run_subscribers(dixa_event: events.DixaEvent) -> tuple[str, str, str]:
    record = dixa_event.record
    # On its first claim an event has no runs yet (a reprocess or a lost worker counts as a
    # claim too), so the look-up is saved on the common path.
    runs = HandlerRun.objects.filter(event=record) if record.processing_attempts > 1 else []
    previous = {run.handler: run for run in runs}
    results: list[tuple[str, str, str]] = []
    to_save: list[HandlerRun] = []
    for subscription in events.subscriptions_for(record.event_type):
        run = previous.get(subscription.name)
        if run is not None and run.finished_at is not None:  # done; not asked to run again
            results.append((subscription.name, run.outcome, run.reason))
            continue
        outcome, reason = _run_one(subscription, dixa_event)
        results.append((subscription.name, outcome, reason))
        to_save.append(
            HandlerRun(
                event=record,
                handler=subscription.name,
                outcome=outcome,
                reason=reason,
                attempts=(run.attempts if run else 0) + 1,
                finished_at=timezone.now(),
            )
        )
    HandlerRun.objects.bulk_create(
        to_save,
        update_conflicts=True,
        unique_fields=["event", "handler"],
        update_fields=["outcome", "reason", "attempts", "finished_at"],
    )
    return _summary(results)


def _run_one(subscription: events.Subscription, dixa_event: events.DixaEvent):
    try:
        with transaction.atomic():  # a savepoint: a failing handler's writes are undone
            result = subscription.handler(dixa_event)
    except Exception as exc:
        logger.exception(
            "handler %s failed on inbound event %s", subscription.name, dixa_event.record.pk
        )
        return RunOutcome.ERROR, _why(exc)
    return result.outcome, result.reason


def _summary(results: list[tuple[str, str, str]]) -> tuple[str, str, str]:
    """The event's status, outcome and reason from its subscribers' outcomes."""
    outcomes = {outcome for _, outcome, _ in results}
    if RunOutcome.ERROR in outcomes:
        status, outcome = Status.FAILED, Outcome.ERROR
    elif RunOutcome.HANDLED in outcomes:
        status, outcome = Status.PROCESSED, Outcome.HANDLED
    else:
        status, outcome = Status.PROCESSED, Outcome.SKIPPED
    if len(results) == 1:
        return status, outcome, results[0][2]
    return status, outcome, "; ".join(f"{name}: {reason}" for name, _, reason in results)


def _why(exc: Exception) -> str:
    """The exception as a reason we can store (its text may quote the bad input)."""
    return storable(f"{type(exc).__name__}: {exc}")[:1000]


def _finish(event_pk: int, status: str, outcome: str, reason: str) -> None:
    InboundEvent.objects.filter(pk=event_pk).update(
        status=status, outcome=outcome, outcome_reason=reason, processed_at=timezone.now()
    )
    metrics.events_processed.labels(outcome).inc()


def reprocessable(queryset: QuerySet[InboundEvent]) -> QuerySet[InboundEvent]:
    """The events reprocessing can take: not being processed now, and with their body."""
    return queryset.exclude(status=Status.PROCESSING).filter(body__isnull=False)


@transaction.atomic
def inbound_events_reprocess(*, queryset: QuerySet[InboundEvent], handler: str = "") -> int:
    """Send events through their subscribers again (subscribers are idempotent), or through
    the one named `handler` only. They are queued once this commits. Events whose body
    retention removed keep the outcome they had."""
    pks = list(reprocessable(queryset).values_list("pk", flat=True))
    runs = HandlerRun.objects.filter(event_id__in=pks)
    if handler:
        runs = runs.filter(handler=handler)
    runs.update(finished_at=None)
    InboundEvent.objects.filter(pk__in=pks).update(
        status=Status.RECEIVED, outcome="", outcome_reason="", queued_at=timezone.now()
    )
    INBOUND.publish_on_commit(pks)
    return len(pks)

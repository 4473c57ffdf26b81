"""Retention: what is old enough is purged in small batches, by registered steps.

A step is two functions: `purge(now, batch_size) -> int` removes at most `batch_size`
expired rows and says how many went; `count(now) -> int` says how many are expired (the dry
run). integrations registers its own steps below; other apps register theirs from their
AppConfig.ready() (integrations imports no app).

`retention_purge` runs each step batch after batch, each batch in its own short transaction,
until a batch comes back short, and at most RETENTION_MAX_BATCHES batches per step and run:
a run stays short, and the next one carries on. Settings are days; 0 keeps forever.

Events and survey triggers are never deleted: counts and outcomes live on them. Their bulky
parts are (an event's body, a survey's attempts with their requests and responses).
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, models, transaction
from django.utils import timezone

from integrations.models import InboundEvent, InboundEventBody, RejectedDelivery
from integrations.progress import Progress

logger = logging.getLogger(__name__)

Purge = Callable[[datetime, int], int]
Count = Callable[[datetime], int]
ProgressFor = Callable[[str, int], Progress]


@dataclass(frozen=True)
class Step:
    name: str
    purge: Purge
    count: Count


_steps: dict[str, Step] = {}


def register(name: str, purge: Purge, *, count: Count) -> None:
    """Add the step `name`, or replace it (an app's ready() may run twice in tests)."""
    _steps[name] = Step(name, purge, count)


def unregister(name: str) -> None:
    _steps.pop(name, None)


def steps() -> list[Step]:
    return list(_steps.values())


# --- running the steps ---------------------------------------------------------------------


def retention_purge(
    *, now: datetime | None = None, dry_run: bool = False, progress: ProgressFor | None = None
) -> dict[str, int]:
    """Run every step; rows removed per step (dry run: rows that are expired). A step that
    fails on the database (a lock, a timeout) does not keep the others from running; the
    first such failure is raised after them. `progress(label, total)` gives each step a
    `Progress` (commands pass one; beat doesn't, and so doesn't count before purging)."""
    now = now or timezone.now()
    removed: dict[str, int] = {}
    errors: list[Exception] = []
    for step in steps():
        try:
            removed[step.name] = (
                step.count(now) if dry_run else _step_run(step, now, progress=progress)
            )
        except DatabaseError as exc:
            logger.exception("retention: step %s failed", step.name)
            errors.append(exc)
    if errors:
        raise errors[0]
    return removed


def _step_run(step: Step, now: datetime, progress: ProgressFor | None = None) -> int:
    batch_size, max_batches = settings.RETENTION_BATCH_SIZE, settings.RETENTION_MAX_BATCHES
    shown = None
    if progress is not None:
        shown = progress(f"retention {step.name}", min(step.count(now), batch_size * max_batches))
    removed = 0
    for _ in range(max_batches):
        with transaction.atomic():
            batch = step.purge(now, batch_size)
        removed += batch
        if shown is not None:
            shown.advance(batch)
        if batch < batch_size:
            break
    else:
        logger.info(
            "retention: %s stopped after %d batches; the next run goes on", step.name, max_batches
        )
    if shown is not None:
        shown.finish()
    if removed:
        logger.info("retention: %s removed %d rows", step.name, removed)
    return removed


# --- tools for steps -----------------------------------------------------------------------


def cutoff(days: int, now: datetime) -> datetime | None:
    """Rows older than this are expired; None when `days` is 0 (kept forever)."""
    return now - timedelta(days=days) if days > 0 else None


def batch_delete(queryset: models.QuerySet, batch_size: int, order_by: str = "pk") -> int:
    """Delete the first `batch_size` rows of `queryset`: their keys first (one SELECT with a
    LIMIT), then those rows by key, `queryset`'s conditions checked again in the DELETE."""
    pks = list(queryset.order_by(order_by).values_list("pk", flat=True)[:batch_size])
    if not pks:
        return 0
    _, per_model = queryset.filter(pk__in=pks).delete()
    return per_model.get(queryset.model._meta.label, 0)


def first_pk_since(queryset: models.QuerySet, field: str, moment: datetime) -> int | None:
    """The smallest key in `queryset` whose `field` is at or after `moment` (None: none is).

    For tables whose rows are stamped with `field` as they are inserted, so that keys follow
    time: bisects the primary key, a few dozen probes of its index at most, with no index on
    `field`. Steps use it to bound their scan: expired rows all lie below it."""
    rows = queryset.order_by("pk").values_list("pk", field)
    first, last = rows.first(), rows.last()
    if first is None or last[1] < moment:
        return None
    if first[1] >= moment:
        return first[0]

    def since(key: int) -> bool:  # the first row from `key` on is at or after `moment`
        row = rows.filter(pk__gte=key).first()
        return row is None or row[1] >= moment

    before, after = first[0], last[0]  # since(before) is false, since(after) true
    while after - before > 1:
        middle = (before + after) // 2
        before, after = (before, middle) if since(middle) else (middle, after)
    return rows.filter(pk__gte=after).first()[0]


# --- integrations' steps -------------------------------------------------------------------

FINISHED_EVENT = [InboundEvent.Status.PROCESSED, InboundEvent.Status.FAILED]


def expired_event_bodies(now: datetime) -> models.QuerySet[InboundEventBody]:
    """Bodies of finished events received more than RETENTION_EVENT_BODY_DAYS ago. An event
    still to be processed keeps its body, whatever its age."""
    before = cutoff(settings.RETENTION_EVENT_BODY_DAYS, now)
    if before is None:
        return InboundEventBody.objects.none()
    bodies = InboundEventBody.objects.filter(
        event__received_at__lt=before, event__status__in=FINISHED_EVENT
    )
    bound = first_pk_since(InboundEventBody.objects.all(), "event__received_at", before)
    return bodies if bound is None else bodies.filter(pk__lt=bound)


def expired_rejected_deliveries(now: datetime) -> models.QuerySet[RejectedDelivery]:
    before = cutoff(settings.RETENTION_REJECTED_DAYS, now)
    if before is None:
        return RejectedDelivery.objects.none()
    return RejectedDelivery.objects.filter(received_at__lt=before)


def event_bodies_purge(now: datetime, batch_size: int) -> int:
    return batch_delete(expired_event_bodies(now), batch_size)


def event_bodies_expired_count(now: datetime) -> int:
    return expired_event_bodies(now).count()


def rejected_deliveries_purge(now: datetime, batch_size: int) -> int:
    # Ordered by the indexed received_at: the scan reads expired rows only.
    return batch_delete(expired_rejected_deliveries(now), batch_size, order_by="received_at")


def rejected_deliveries_expired_count(now: datetime) -> int:
    return expired_rejected_deliveries(now).count()


register("event_bodies", event_bodies_purge, count=event_bodies_expired_count)
register("rejected_deliveries", rejected_deliveries_purge, count=rejected_deliveries_expired_count)

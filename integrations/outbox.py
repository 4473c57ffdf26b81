"""One outbox for every table whose rows are work for a Celery task: inbound events to
process, surveys to deliver, agents' P-GAP scores to read from Dixa.

A row is the truth; a Celery message is only a nudge. The life of a row:

    pending ──hand_off──▶ pending + queued_at ──claim──▶ claimed ──(service)──▶ done
       ▲                        │ message lost: queued_at older than REQUEUE_AFTER  │
       └──────── hand_off again ┘                                                  │
       └──────────────────────── reclaim: claimed longer than CLAIM_TIMEOUT ◀──────┘

- `hand_off` stamps `queued_at` on due rows (SKIP LOCKED, so concurrent dispatchers never
  take the same rows) and publishes their ids in chunks; what the broker refuses is
  unstamped for the next pass.
- `claim` is a conditional update: a duplicate message changes nothing. A task takes a
  batch of ids and claims them together (`claim_many`); each row is then worked on its own.
- `reclaim` puts back rows whose worker died mid-work.

Settings per outbox, by its prefix (INBOUND, SURVEY, PGAP): `<PREFIX>_REQUEUE_AFTER_SECONDS`,
`<PREFIX>_CLAIM_TIMEOUT_SECONDS` and, where set, `<PREFIX>_MAX_UNCLAIMED`. Apps register
their outboxes; the dispatcher (`integrations.dispatcher`) drives `hand_off` and `reclaim`
for all of them.
"""

import logging
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Min, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from integrations.services.queueing import enqueue

logger = logging.getLogger(__name__)
HAND_OFF_BATCH = 500
# How long a handed-off row that no worker took yet counts against `room`.
ROOM_WINDOW = timedelta(seconds=10)
# PostgreSQL NOTIFY channel: a writer signals new rows on it, with `<table>:<id>` (or just
# the table's name) as the payload (ingest does, for inbound events); the dispatcher LISTENs.
NOTIFY_CHANNEL = "relay_outbox"


@dataclass(frozen=True)
class Outbox:
    name: str
    model: type[models.Model]
    task: str  # dotted path of a task taking a list of primary keys
    settings_prefix: str
    pending: Q  # rows that want a worker
    claimed: dict  # values a claim sets, e.g. {"status": "processing"}
    claimed_at_field: str  # set to the claim's time
    attempts_field: str  # counted up by every claim
    release: dict  # values that put a claimed row back to pending
    # When set, a pending row is due once this has passed; a reclaimed row is due at once.
    schedule_field: str | None = None
    # Without a schedule, when a pending row became due (its arrival); for /metrics' age.
    due_since_field: str | None = None
    chunk: int = 20  # ids per message, so that several workers share a backlog
    on_reclaim: Callable[[list[int]], None] | None = field(default=None, compare=False)

    # --- settings -------------------------------------------------------------------
    @property
    def requeue_after(self) -> timedelta:
        return timedelta(seconds=getattr(settings, f"{self.settings_prefix}_REQUEUE_AFTER_SECONDS"))

    @property
    def claim_timeout(self) -> timedelta:
        return timedelta(seconds=getattr(settings, f"{self.settings_prefix}_CLAIM_TIMEOUT_SECONDS"))

    @property
    def max_unclaimed(self) -> int:
        return getattr(settings, f"{self.settings_prefix}_MAX_UNCLAIMED", 0)

    # --- queries --------------------------------------------------------------------
    def ready(self, now: datetime) -> Q:
        if self.schedule_field is None:
            return self.pending
        return self.pending & Q(**{f"{self.schedule_field}__lte": now})

    def due(self, now: datetime) -> models.QuerySet:
        """Ready rows never handed off, or whose message seems lost."""
        unqueued = Q(queued_at=None) | Q(queued_at__lt=now - self.requeue_after)
        return self.model.objects.filter(self.ready(now) & unqueued)

    def next_due_at(self) -> datetime | None:
        """When the earliest scheduled row falls due (None: none is waiting)."""
        if self.schedule_field is None:
            return None
        waiting = self.model.objects.filter(self.pending, queued_at=None)
        return waiting.aggregate(at=Min(self.schedule_field))["at"]

    def room(self, *, now: datetime | None = None) -> float:
        """How many more rows to hand off now: `<PREFIX>_MAX_UNCLAIMED` less the rows handed
        off in the last ROOM_WINDOW that still wait for a worker (0 or less: none; unset or 0
        is no limit, `inf`). While the workers are behind, new rows wait here and then go
        many to a message, so a busy worker spends less per row instead of falling further
        behind. Older waiting rows hold nothing back: their message may be lost (Redis
        wiped)."""
        limit = self.max_unclaimed
        if not limit:
            return math.inf
        now = now or timezone.now()
        since = now - min(self.requeue_after, ROOM_WINDOW)
        waiting = self.model.objects.filter(self.pending, queued_at__gte=since)
        return limit - waiting.order_by().values("pk")[:limit].count()

    # --- the three moves ------------------------------------------------------------
    def hand_off(
        self, *, now: datetime | None = None, limit: int = HAND_OFF_BATCH, expected: bool = False
    ) -> int | None:
        """Publish up to `limit` due rows, oldest first. How many, or None when the broker
        refused (the rows stay due). `expected`: a notification announced new rows, so the
        cheap look whether any is due is skipped."""
        now = now or timezone.now()
        due = self.due(now)
        if not expected and not due.exists():  # a poll's usual answer: no lock, no transaction
            return 0
        with transaction.atomic():
            rows = list(
                due.order_by("pk")
                .select_for_update(skip_locked=True)
                .values_list("pk", "queued_at")[:limit]
            )
            pks = [pk for pk, _ in rows]
            self.model.objects.filter(pk__in=pks).update(queued_at=now)
        again = sum(1 for _, queued_at in rows if queued_at is not None)
        if again:  # the usual hand-off is not news; a lost message is
            logger.warning(
                "%s: %d row(s) handed off again, their message seems lost", self.name, again
            )
        if not self.publish(pks):
            return None
        return len(pks)

    def hand_off_announced(self, pks: list[int], *, now: datetime | None = None) -> int | None:
        """Hand off new rows a notification named: stamped in one statement (no explicit
        transaction), then published; how many, or None when the broker refused. A row
        another dispatcher stamped first is left to it (its UPDATE waits on that one's row
        lock, then finds the row stamped), as is a row no longer ready."""
        now = now or timezone.now()
        ours = self.model.objects.filter(self.ready(now), pk__in=pks, queued_at=None)
        if ours.update(queued_at=now) < len(pks):  # not all: ours are those with our stamp
            pks = list(
                self.model.objects.filter(pk__in=pks, queued_at=now).values_list("pk", flat=True)
            )
        if not self.publish(pks):
            return None
        return len(pks)

    def publish(self, pks: list[int], *, countdown: float | None = None) -> bool:
        """Publish the ids in chunks. On a refusal the rest is unstamped (the dispatcher
        hands it off again) and False is returned."""
        task = import_string(self.task)
        for start in range(0, len(pks), self.chunk):
            if not enqueue(task, pks[start : start + self.chunk], countdown=countdown):
                self.model.objects.filter(self.pending, pk__in=pks[start:]).update(queued_at=None)
                return False
        return True

    def publish_on_commit(self, pks: list[int], *, countdown: float | None = None) -> None:
        """For rows the caller stamped `queued_at` on in its transaction: publish them
        once it commits (the dispatcher steps in if this is lost). Within
        `publishing_together()` they go out with the others when it ends."""
        if not pks:
            return
        together = _together.get()
        if together is not None and countdown is None:
            transaction.on_commit(partial(together.setdefault(self.name, []).extend, list(pks)))
        else:
            transaction.on_commit(partial(self.publish, list(pks), countdown=countdown))

    def claim(self, pk: int, *, now: datetime | None = None) -> bool:
        """Take one ready row; False when it is not ready or someone else has it."""
        now = now or timezone.now()
        return bool(
            self.model.objects.filter(self.ready(now), pk=pk).update(
                **self.claimed,
                **{self.claimed_at_field: now, self.attempts_field: F(self.attempts_field) + 1},
            )
        )

    def claim_many(self, pks: list[int], *, now: datetime | None = None) -> list[int]:
        """Take the ready rows among `pks` in one go; the ones taken, in the given order.
        Rows another worker is claiming at this moment are left to it (SKIP LOCKED)."""
        if len(pks) == 1:
            return list(pks) if self.claim(pks[0], now=now) else []
        now = now or timezone.now()
        with transaction.atomic():
            ready = self.model.objects.filter(self.ready(now), pk__in=pks)
            taken = set(
                ready.select_for_update(skip_locked=True, no_key=True).values_list("pk", flat=True)
            )
            self.model.objects.filter(pk__in=taken).update(
                **self.claimed,
                **{self.claimed_at_field: now, self.attempts_field: F(self.attempts_field) + 1},
            )
        return [pk for pk in pks if pk in taken]

    def reclaim(self, *, now: datetime | None = None) -> int:
        """Put back rows claimed longer than the claim timeout (their worker died)."""
        now = now or timezone.now()
        stuck = self.model.objects.filter(
            **self.claimed, **{f"{self.claimed_at_field}__lt": now - self.claim_timeout}
        )
        pks = list(stuck.values_list("pk", flat=True)[:HAND_OFF_BATCH])
        if not pks:
            return 0
        release = dict(self.release, queued_at=None)
        if self.schedule_field is not None:
            release[self.schedule_field] = now
        with transaction.atomic():
            count = self.model.objects.filter(pk__in=pks, **self.claimed).update(**release)
            if self.on_reclaim is not None:
                self.on_reclaim(pks)
        logger.warning("%s: %d row(s) reclaimed from a lost worker", self.name, count)
        return count


_outboxes: dict[str, Outbox] = {}
# Rows to publish when the current `publishing_together()` block ends, per outbox.
_together: ContextVar[dict[str, list[int]] | None] = ContextVar("together", default=None)


@contextmanager
def publishing_together() -> Iterator[None]:
    """Within the block, rows published on commit (without a countdown) are gathered and
    published when it ends, in each outbox's chunks: a task working through a batch sends
    one message for the work it made instead of one per row. What is gathered was committed,
    so it is published even when the block raises; if that is lost, the dispatcher hands
    the rows off again."""
    gathered: dict[str, list[int]] = {}
    token = _together.set(gathered)
    try:
        yield
    finally:
        _together.reset(token)
        # At once outside a transaction (a worker); inside one, after the rows it gathered.
        transaction.on_commit(partial(_publish_gathered, gathered))


def _publish_gathered(gathered: dict[str, list[int]]) -> None:
    for name, pks in gathered.items():
        if pks:
            _outboxes[name].publish(pks)


def register(outbox: Outbox) -> Outbox:
    _outboxes[outbox.name] = outbox
    return outbox


def registered() -> list[Outbox]:
    return list(_outboxes.values())

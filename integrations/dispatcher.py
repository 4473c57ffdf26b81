"""The dispatcher: hands every registered outbox's due rows to Celery (`manage.py
run_dispatcher`, one of the platform's processes).

On PostgreSQL it LISTENs on NOTIFY_CHANNEL: ingest's INSERT sends NOTIFY in its own
statement, delivered only on commit, so a stored event wakes the dispatcher at once. A slow
poll (DISPATCH_POLL_SECONDS) is the fallback for a missed notification and the only wake-up
on SQLite. Rows scheduled for later (survey retries and delays) wake it when they fall due.
Every RECLAIM_INTERVAL_SECONDS it also puts back rows whose worker died.

Several dispatchers may run at once (hand-off takes rows with SKIP LOCKED); with none
running nothing is lost, rows wait in the database until one starts.
"""

import logging
import threading
import time
from collections.abc import Mapping

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from integrations import outbox

logger = logging.getLogger(__name__)
DATABASE_DOWN_PAUSE_SECONDS = 1.0
# While an outbox's workers have all the rows they may wait for (`Outbox.room`), how often
# to look whether they have taken them (each new row's notification looks as well).
BUSY_RECHECK_SECONDS = 0.05


class Dispatcher:
    def __init__(self, *, poll_seconds: float, reclaim_seconds: float):
        self.poll_seconds = poll_seconds
        self.reclaim_seconds = reclaim_seconds
        self.stopping = threading.Event()
        self._next_reclaim = 0.0
        self._next_pass: dict[str, float] = {}  # per outbox, when to look again (monotonic)
        # Outboxes whose last pass left due rows behind (held back, or a full batch): their
        # next pass takes every due row, not only the ones a notification names.
        self._behind: set[str] = set()
        # Per outbox, how many rows it may still hand off before it asks `Outbox.room` again
        # (rows handed off elsewhere meanwhile, e.g. an admin's reprocess, are not counted).
        self._room: dict[str, float] = {}
        self._listening_on = None  # the DB-API connection LISTEN was issued on

    def run(self) -> None:
        notified: dict[str, set[int]] = {}
        while not self.stopping.is_set():
            try:
                self._listen()
                self.run_once(notified)
            except DatabaseError:
                logger.exception("dispatcher: database unavailable; retrying in 1 s")
                connection.close()
                self._listening_on = None
                self._next_pass.clear()
                self._behind.clear()
                self._room.clear()
                self.stopping.wait(DATABASE_DOWN_PAUSE_SECONDS)
            notified = self._wait(self._pause())
        connection.close()

    def run_once(self, notified: Mapping[str, set[int]] | None = None) -> None:
        """Hand off every outbox that is due for a pass (its poll or its next scheduled
        row came) or that a notification named (by its table, with the new rows' ids when
        it gave them); reclaim when it is time."""
        notified = notified or {}
        now = time.monotonic()
        for box in outbox.registered():
            announced = notified.get(box.model._meta.db_table)
            pass_due = self._next_pass.get(box.name, 0.0) <= now
            if pass_due and announced:  # due anyway: every due row, not only those named
                announced = set()
            if pass_due or announced is not None:
                self._next_pass[box.name] = now + self._pass_over(box, announced)
        if now >= self._next_reclaim:
            for box in outbox.registered():
                box.reclaim()
            self._next_reclaim = now + self.reclaim_seconds

    def _pass_over(self, box: outbox.Outbox, announced: set[int] | None = None) -> float:
        """Hand off one outbox; how long until it needs a pass again. `announced`: a
        notification named the outbox (and these new rows, when it gave their ids)."""
        # A poll's usual answer is that nothing is due: one cheap look, no room check.
        due = announced is not None or box.due(timezone.now()).exists()
        if due and not self._has_room(box):  # the workers are behind: soon, then many at once
            self._behind.add(box.name)
            return BUSY_RECHECK_SECONDS
        if not due:
            handed = 0
        elif announced and box.name not in self._behind:
            # The usual wake-up: just these rows, stamped in one statement.
            handed = box.hand_off_announced(sorted(announced))
        else:
            handed = box.hand_off(expected=True)
        if handed is None:  # broker down: the rows stay due
            self._behind.add(box.name)
            return settings.ENQUEUE_BACKOFF_SECONDS or 1.0
        if box.name in self._room:
            self._room[box.name] -= handed
        if handed >= outbox.HAND_OFF_BATCH:
            self._behind.add(box.name)
            return 0.0  # a backlog: keep going
        self._behind.discard(box.name)
        due_at = box.next_due_at()
        if due_at is None:
            return self.poll_seconds
        return min(self.poll_seconds, max(0.0, (due_at - timezone.now()).total_seconds()))

    def _has_room(self, box: outbox.Outbox) -> bool:
        """Whether the outbox's workers may be handed more; asked of the database only once
        the room it last gave is used up (so not on every notification). A soft limit: rows
        another dispatcher or an admin's reprocess handed off meanwhile are not counted."""
        if self._room.get(box.name, 0) <= 0:
            self._room[box.name] = box.room()
        return self._room[box.name] > 0

    def _pause(self) -> float:
        """Until the earliest outbox pass or reclaim."""
        upcoming = [*self._next_pass.values(), self._next_reclaim]
        return max(0.0, min(upcoming) - time.monotonic())

    def stop(self) -> None:
        self.stopping.set()

    @property
    def listening(self) -> bool:
        """Whether notifications reach it (PostgreSQL, LISTEN issued on its connection)."""
        return self._listening_on is not None

    # --- waking up ---------------------------------------------------------------------
    def _listen(self) -> None:
        if connection.vendor != "postgresql":
            return
        connection.ensure_connection()
        if self._listening_on is not connection.connection:  # new (or re-made) connection
            with connection.cursor() as cursor:
                cursor.execute(f"LISTEN {outbox.NOTIFY_CHANNEL}")
            self._listening_on = connection.connection

    def _wait(self, seconds: float) -> dict[str, set[int]]:
        """Sleep up to `seconds`, or until notified; the tables the notifications named,
        each with the ids of the new rows they gave (every notification already received is
        taken, so a burst makes one pass)."""
        if seconds <= 0 or self.stopping.is_set():
            return {}
        if self._listening_on is None:
            self.stopping.wait(seconds)
            return {}
        deadline = time.monotonic() + seconds
        while not self.stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return {}
            try:
                tables = self._first_notifications(min(left, 1.0))
            except Exception:  # the connection broke: the next pass reconnects
                logger.warning("dispatcher: lost the LISTEN connection; reconnecting")
                connection.close()
                self._listening_on = None
                return {}
            if tables:
                return tables
        return {}

    def _first_notifications(self, timeout: float) -> dict[str, set[int]]:
        """Wait up to `timeout` for a notification, then take the ones already queued."""
        tables: dict[str, set[int]] = {}
        # Not a `break` after the first: psycopg reads every notification that has arrived
        # at once and drops those the generator had not yielded yet when it is closed.
        # `stop_after=1` ends it after the batch holding the first.
        for notification in self._listening_on.notifies(timeout=timeout, stop_after=1):
            _note(tables, notification.payload)
        if tables:
            for notification in self._listening_on.notifies(timeout=0):
                _note(tables, notification.payload)
        return tables


def _note(tables: dict[str, set[int]], payload: str) -> None:
    """A payload is `<table>` or `<table>:<id of the new row>`."""
    table, _, pk = payload.partition(":")
    ids = tables.setdefault(table, set())
    if pk.isdigit():
        ids.add(int(pk))

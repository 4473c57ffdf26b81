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

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from integrations import outbox

logger = logging.getLogger(__name__)
DATABASE_DOWN_PAUSE_SECONDS = 1.0


class Dispatcher:
    def __init__(self, *, poll_seconds: float, reclaim_seconds: float):
        self.poll_seconds = poll_seconds
        self.reclaim_seconds = reclaim_seconds
        self.stopping = threading.Event()
        self._next_reclaim = 0.0
        self._listening_on = None  # the DB-API connection LISTEN was issued on

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._listen()
                pause = self.run_once()
            except DatabaseError:
                logger.exception("dispatcher: database unavailable; retrying in 1 s")
                connection.close()
                self._listening_on = None
                pause = DATABASE_DOWN_PAUSE_SECONDS
            self._wait(pause)
        connection.close()

    def run_once(self) -> float:
        """One pass over every outbox; returns how long to wait before the next."""
        pause = self.poll_seconds
        for box in outbox.registered():
            handed = box.hand_off()
            if handed is None:  # broker down: the rows stay due
                pause = min(pause, settings.ENQUEUE_BACKOFF_SECONDS or 1.0)
            elif handed >= outbox.HAND_OFF_BATCH:
                pause = 0  # a backlog: keep going
            due_at = box.next_due_at()
            if due_at is not None:
                pause = min(pause, max(0.0, (due_at - timezone.now()).total_seconds()))
        if time.monotonic() >= self._next_reclaim:
            for box in outbox.registered():
                box.reclaim()
            self._next_reclaim = time.monotonic() + self.reclaim_seconds
        return pause

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

    def _wait(self, seconds: float) -> None:
        if seconds <= 0 or self.stopping.is_set():
            return
        if self._listening_on is None:
            self.stopping.wait(seconds)
            return
        # Wake on the first notification, checking for a stop request now and then.
        deadline = time.monotonic() + seconds
        while not self.stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                if any(True for _ in self._listening_on.notifies(timeout=min(left, 1.0))):
                    return
            except Exception:  # the connection broke: the next pass reconnects
                logger.warning("dispatcher: lost the LISTEN connection; reconnecting")
                connection.close()
                self._listening_on = None
                return

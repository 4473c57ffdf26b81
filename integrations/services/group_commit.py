"""Group commit: concurrent callers in one process share one statement and one commit.

A durable single-row INSERT costs PostgreSQL far more per row (statement, commit, WAL
flush) than the same row inside a multi-row INSERT. Callers `submit` a row and block until
it is committed. The first caller becomes the leader and writes every row pending at that
moment, on its own connection, in one statement; rows that arrive meanwhile wait for the
next leader, chosen among them as soon as the batch is done. There is no timer: a lone
caller writes its own row at once, so a quiet process or a sync worker (one request at a
time) pays nothing, and batches form by themselves while a commit is in flight.

Every caller gets its own row's answer or the error that stopped it. When a batch fails
for a reason that may belong to one row (bad data, a constraint), each row is retried on
its own so that one bad row cannot refuse its neighbours.
"""

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from django.db import DataError, IntegrityError

Row = TypeVar("Row")
Result = TypeVar("Result")

# Errors that can come from a single row; anything else (a lost connection) fails all.
ROW_ERRORS = (DataError, IntegrityError)


class _Ticket(Generic[Row, Result]):
    __slots__ = ("row", "result", "error", "ready", "promoted")

    def __init__(self, row: Row):
        self.row = row
        self.result: Result | None = None
        self.error: BaseException | None = None
        self.ready = threading.Event()
        self.promoted = False

    def outcome(self) -> Result | None:
        if self.error is not None:
            raise self.error
        return self.result


class GroupCommit(Generic[Row, Result]):
    def __init__(self, write: Callable[[Sequence[Row]], list[Result]], max_batch: int = 100):
        """`write` stores rows in one statement and returns one result per row, in order."""
        self.write = write
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._pending: list[_Ticket] = []
        self._leading = False
        self.batches_written = 0  # observed by tests and benchmarks
        self.rows_written = 0

    def submit(self, row: Row) -> Result | None:
        ticket: _Ticket = _Ticket(row)
        with self._lock:
            self._pending.append(ticket)
            lead = not self._leading
            self._leading = True
        if not lead:
            ticket.ready.wait()
            if not ticket.promoted:
                return ticket.outcome()
        self._lead()
        return ticket.outcome()

    def _lead(self) -> None:
        with self._lock:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
        try:
            self._write(batch)
        finally:  # whatever happened, the next leader is named and every caller woken
            with self._lock:
                if self._pending:
                    successor = self._pending[0]
                    successor.promoted = True
                    successor.ready.set()
                else:
                    self._leading = False
            for ticket in batch:
                ticket.ready.set()

    def _write(self, batch: list[_Ticket]) -> None:
        """Never raises: each ticket ends with a result or an error (re-raised by its caller)."""
        try:
            results = self.write([ticket.row for ticket in batch])
        except ROW_ERRORS as exc:
            if len(batch) == 1:
                batch[0].error = exc
                return
            for ticket in batch:  # find the row at fault; the others still go in
                self._write([ticket])
            return
        except BaseException as exc:  # handed to every caller, the leader included
            for ticket in batch:
                ticket.error = exc
            return
        for ticket, result in zip(batch, results, strict=True):
            ticket.result = result
        self.batches_written += 1
        self.rows_written += len(batch)

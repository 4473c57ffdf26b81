"""Hand-off to Celery that never holds up a request.

Rows are committed before anything is published, so a failed or lost publish loses
nothing: the sweeper finds the row later. Two ways in:

- `enqueue`: publish now (workers, admin actions). After a broker failure it stops
  trying for ENQUEUE_BACKOFF_SECONDS, so an outage does not cost every call a timeout.
- `enqueue_in_background`: the ingest path. The request thread only appends an id to an
  in-process queue; a publisher thread does the network work. Even with Redis down
  (kombu blocks for seconds while it tries to connect) the acknowledgement is not delayed.
  Tasks given this way take a list of ids: under load the thread sends whatever has
  piled up as one message (a Celery publish costs far more CPU than the insert), while
  at a low rate every id still leaves at once, alone. With Redis as the broker, tasks
  listed in `integrations.handoff` go through a plain Redis list instead (see there).
"""

import logging
import os
import queue
import threading
import time

from django.conf import settings

from integrations import handoff

logger = logging.getLogger(__name__)

_paused_until = 0.0


def _guarded(what: str, send) -> bool:
    """Run `send`; after a failure, skip every send for ENQUEUE_BACKOFF_SECONDS."""
    global _paused_until
    if time.monotonic() < _paused_until:
        return False
    try:
        send()
    except Exception as exc:  # any broker or Redis error: the sweeper is the safety net
        _paused_until = time.monotonic() + settings.ENQUEUE_BACKOFF_SECONDS
        logger.warning("%s failed (%s); the sweeper will retry", what, exc)
        return False
    return True


def enqueue(task, *args, countdown: float | None = None) -> bool:
    return _guarded(
        f"enqueue of {task.name}{args!r}",
        lambda: task.apply_async(
            args=args, retry=False, **({"countdown": countdown} if countdown else {})
        ),
    )


class _Publisher:
    MAX_PENDING = 10_000
    MAX_BATCH = 100

    def __init__(self):
        self._lock = threading.Lock()
        self._pid = None
        self._queue: queue.Queue = queue.Queue(maxsize=self.MAX_PENDING)

    def submit(self, task, item) -> None:
        self._ensure_thread()
        try:
            self._queue.put_nowait((task, item))
        except queue.Full:
            logger.warning("publisher backlog full; %s(%r) is left to the sweeper", task.name, item)

    def _ensure_thread(self) -> None:
        # Started lazily and again after a fork (gunicorn and Celery fork their workers).
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():
                self._queue = queue.Queue(maxsize=self.MAX_PENDING)
                threading.Thread(target=self._run, name="relay-publisher", daemon=True).start()
                self._pid = os.getpid()

    def _run(self) -> None:
        while True:
            batches: dict = {}
            task, item = self._queue.get()
            batches.setdefault(task, []).append(item)
            while sum(map(len, batches.values())) < self.MAX_BATCH:
                try:
                    task, item = self._queue.get_nowait()
                except queue.Empty:
                    break
                batches.setdefault(task, []).append(item)
            for task, items in batches.items():
                _send(task, items)

    def drain(self, timeout: float = 5) -> None:
        """Wait until everything submitted so far was published or given up (tests)."""
        deadline = time.monotonic() + timeout
        while not self._queue.empty() and time.monotonic() < deadline:
            time.sleep(0.01)


def _send(task, items: list) -> None:
    if handoff.available() and task.name in handoff.LISTS:
        _guarded(f"hand-off of {len(items)} id(s)", lambda: handoff.push(task.name, items))
    else:
        enqueue(task, items)


publisher = _Publisher()


def enqueue_in_background(task, item) -> None:
    """Queue `item` for `task`, which receives a list of items."""
    if settings.ENQUEUE_IN_BACKGROUND:
        publisher.submit(task, item)
    else:
        enqueue(task, [item])


def reset() -> None:
    global _paused_until
    _paused_until = 0.0

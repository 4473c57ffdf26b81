"""The ingest hand-off through a plain Redis list.

A Celery publish costs ~0.8 ms of CPU (message building, kombu); on the ingest path that
is most of what a delivery costs beyond its INSERT. So when Redis is the broker, the web
process only `LPUSH`es event ids onto a list (~0.07 ms), and a dispatcher thread inside
each Celery worker's main process pops them and publishes `process_inbound_events` in
batches. Ids lost between the two (a worker killed between pop and publish, a wiped Redis)
are still `received` in PostgreSQL, and the sweeper queues them again.
"""

import logging
import threading

import redis
from celery import signals
from django.conf import settings

from integrations.redis_connection import connect

logger = logging.getLogger(__name__)

# Only these tasks may be reached through a list: the list name maps to a known task.
LISTS = {"integrations.tasks.process_inbound_events": "relay:handoff:inbound-events"}
BATCH = 100


def available() -> bool:
    return bool(settings.REDIS_URL)


_push_client: redis.Redis | None = None


def push(task_name: str, ids: list) -> None:
    """Raises redis.RedisError when Redis does not take them."""
    global _push_client
    if _push_client is None:
        _push_client = connect()
    _push_client.lpush(LISTS[task_name], *ids)


class Dispatcher(threading.Thread):
    """Pops ids and publishes them to Celery, oldest first, up to BATCH per message."""

    def __init__(self, task, list_name: str):
        super().__init__(name=f"handoff-{list_name}", daemon=True)
        self.task, self.list_name = task, list_name
        self.stopping = threading.Event()

    def run(self) -> None:
        client = connect(timeout=5)  # longer than BRPOP's 1 s wait
        while not self.stopping.is_set():
            try:
                popped = client.brpop(self.list_name, timeout=1)
                if popped is None:
                    continue
                ids = [int(popped[1]), *map(int, client.rpop(self.list_name, BATCH - 1) or [])]
                self.task.apply_async(args=[ids], retry=False)
            except Exception as exc:  # Redis or broker down: the sweeper covers the gap
                logger.warning("hand-off dispatcher: %s; retrying in 1 s", exc)
                self.stopping.wait(1)


_dispatchers: list[Dispatcher] = []


@signals.worker_ready.connect
def start_dispatchers(**kwargs) -> None:
    if not available():
        return
    from celery import current_app

    for task_name, list_name in LISTS.items():
        dispatcher = Dispatcher(current_app.tasks[task_name], list_name)
        dispatcher.start()
        _dispatchers.append(dispatcher)


@signals.worker_shutdown.connect
def stop_dispatchers(**kwargs) -> None:
    for dispatcher in _dispatchers:
        dispatcher.stopping.set()

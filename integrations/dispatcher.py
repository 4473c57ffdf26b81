"""The worker's dispatcher: hands newly stored events to Celery.

Ingest only commits a row; nothing on the acknowledgement path talks to the broker. A
thread in each Celery worker's main process polls for events no worker has been given
(`inbound_events_dispatch`) every INBOUND_DISPATCH_INTERVAL_SECONDS, at once again after a
full batch, and publishes them. With the broker down it waits and tries again, so events
stored during a Redis outage are processed once Redis is back, with nothing restarted.
The beat sweeper covers the case of no dispatcher running at all.
"""

import logging
import threading

from celery import signals
from django.conf import settings
from django.db import close_old_connections, connection

logger = logging.getLogger(__name__)

BROKER_DOWN_PAUSE_SECONDS = 1.0


class Dispatcher(threading.Thread):
    def __init__(self, interval: float, batch: int):
        super().__init__(name="inbound-dispatcher", daemon=True)
        self.interval, self.batch = interval, batch
        self.stopping = threading.Event()

    def run(self) -> None:
        from integrations.services.processing import inbound_events_dispatch

        while not self.stopping.is_set():
            pause = self.interval
            try:
                handed = inbound_events_dispatch(limit=self.batch)
                if handed is None:
                    pause = BROKER_DOWN_PAUSE_SECONDS
                elif handed >= self.batch:
                    pause = 0  # a backlog: keep going
            except Exception:  # the database is down or restarting: try again shortly
                logger.exception("inbound dispatcher: poll failed; retrying in 1 s")
                connection.close()
                pause = BROKER_DOWN_PAUSE_SECONDS
            close_old_connections()
            self.stopping.wait(pause)
        connection.close()


_dispatchers: list[Dispatcher] = []


@signals.worker_ready.connect
def start_dispatcher(**kwargs) -> None:
    interval = settings.INBOUND_DISPATCH_INTERVAL_SECONDS
    if interval <= 0:  # switched off: the beat sweeper alone queues events
        return
    from integrations.services.processing import DISPATCH_BATCH

    dispatcher = Dispatcher(interval, DISPATCH_BATCH)
    dispatcher.start()
    _dispatchers.append(dispatcher)


@signals.worker_shutdown.connect
def stop_dispatcher(**kwargs) -> None:
    for dispatcher in _dispatchers:
        dispatcher.stopping.set()
    for dispatcher in _dispatchers:
        dispatcher.join(timeout=5)
    _dispatchers.clear()

"""`manage.py run_dispatcher`: hand due rows of every outbox to Celery until stopped."""

import logging
import signal

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

from integrations import outbox
from integrations.dispatcher import Dispatcher

logger = logging.getLogger("integrations.dispatcher")


class Command(BaseCommand):
    help = "Run the outbox dispatcher (woken by PostgreSQL NOTIFY, with a slow poll)."

    def handle(self, *args, **options):
        dispatcher = Dispatcher(
            poll_seconds=settings.DISPATCH_POLL_SECONDS,
            reclaim_seconds=settings.RECLAIM_INTERVAL_SECONDS,
        )
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: dispatcher.stop())
        wake = "LISTEN/NOTIFY" if connection.vendor == "postgresql" else "polling"
        names = ", ".join(box.name for box in outbox.registered())
        # Logged, not printed: a process's every line is a log line (JSON in production).
        logger.info(
            "dispatcher ready: %s; woken by %s, polling every %s s",
            names,
            wake,
            settings.DISPATCH_POLL_SECONDS,
        )
        dispatcher.run()
        logger.info("dispatcher stopped")

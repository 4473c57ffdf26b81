"""`manage.py run_dispatcher`: hand due rows of every outbox to Celery until stopped."""

import signal

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

from integrations import outbox
from integrations.dispatcher import Dispatcher


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
        self.stdout.write(
            f"dispatcher ready: {names}; woken by {wake}, "
            f"polling every {settings.DISPATCH_POLL_SECONDS} s",
        )
        self.stdout.flush()
        dispatcher.run()
        self.stdout.write("dispatcher stopped")

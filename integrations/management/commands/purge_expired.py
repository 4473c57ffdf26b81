from django.conf import settings
from django.core.management.base import BaseCommand

from integrations.progress import Progress
from integrations.retention import retention_purge


class Command(BaseCommand):
    help = (
        "Purge what is older than the RETENTION_* settings (event bodies, rejected "
        "deliveries, delivery attempts of finished surveys), in batches, as beat does hourly."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be removed; change nothing."
        )

    def handle(self, *args, dry_run=False, **options):
        per_run = settings.RETENTION_BATCH_SIZE * settings.RETENTION_MAX_BATCHES
        verb = "would remove" if dry_run else "removed"

        def progress(label, total):
            return Progress.for_command(self, label, total)

        for step, count in retention_purge(dry_run=dry_run, progress=progress).items():
            note = (
                f" (a run removes at most {per_run}; the next runs go on)"
                if count >= per_run
                else ""
            )
            self.stdout.write(f"{step}: {verb} {count}{note}")

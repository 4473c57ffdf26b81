"""Seed relay history at scale (events, bodies, handler runs, surveys, tries) for the admin's
benchmark (`make bench BENCH_ARGS=admin`) and demos."""

import time

from django.core.management.base import BaseCommand, CommandError

from integrations.progress import Progress
from ivr.services.seeding import scale_history_seed


class Command(BaseCommand):
    help = (
        "Bulk-insert N inbound events over the last D days, seven in ten closes, S of them "
        "surveys with their tries, into accounts admin-scale-0 … (made when missing). "
        "PostgreSQL only; for benchmarks and demos."
    )

    def add_arguments(self, parser):
        parser.add_argument("--events", type=int, default=100_000)
        parser.add_argument("--surveys", type=int, default=60_000)
        parser.add_argument("--accounts", type=int, default=10)
        parser.add_argument("--mappings", type=int, default=5, help="per account")
        parser.add_argument("--days", type=int, default=365)

    def handle(self, *args, **options):
        for name in ("events", "accounts", "mappings", "days"):
            if options[name] < 1:
                raise CommandError(f"--{name} must be at least 1")
        began = time.monotonic()
        try:
            with Progress.for_command(self, "seeding steps", 7) as progress:
                seeded = scale_history_seed(
                    events=options["events"],
                    surveys=max(0, options["surveys"]),
                    accounts=options["accounts"],
                    mappings=options["mappings"],
                    days=options["days"],
                    progress=progress,
                )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{seeded.events} events and {seeded.surveys} surveys seeded in "
            f"{time.monotonic() - began:.1f} s into " + ", ".join(a.slug for a in seeded.accounts)
        )

"""Seed synthetic P-GAP pairs (with their predictions and responses) for benchmarks and demos."""

import time

from django.core.management.base import BaseCommand, CommandError

from integrations.progress import Progress
from pgap.services.seeding import pgap_pairs_seed


class Command(BaseCommand):
    help = (
        "Bulk-insert N P-GAP pairs, with their agent predictions and survey responses, into "
        "accounts pgap-bench-0 … (made when missing). For benchmarks and demos only."
    )

    def add_arguments(self, parser):
        parser.add_argument("--pairs", type=int, default=10_000)
        parser.add_argument("--accounts", type=int, default=1)
        parser.add_argument("--agents", type=int, default=20, help="per account")
        parser.add_argument("--days", type=int, default=365, help="spread over the last N days")
        parser.add_argument("--mappings", type=int, default=3, help="per account")
        parser.add_argument("--batch-size", type=int, default=10_000)
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, **options):
        for name in ("pairs", "accounts", "agents", "days", "mappings", "batch_size"):
            if options[name] < 1:
                raise CommandError(f"--{name.replace('_', '-')} must be at least 1")
        began = time.monotonic()
        with Progress.for_command(self, "pairs seeded", options["pairs"]) as progress:
            result = pgap_pairs_seed(
                pairs=options["pairs"],
                accounts=options["accounts"],
                agents=options["agents"],
                days=options["days"],
                mappings=options["mappings"],
                batch_size=options["batch_size"],
                seed=options["seed"],
                progress=progress,
            )
        slugs = ", ".join(account.slug for account in result.accounts)
        self.stdout.write(
            f"{result.pairs} pairs seeded in {time.monotonic() - began:.1f} s into {slugs}"
        )

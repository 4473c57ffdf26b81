from django.core.management.base import BaseCommand

from ivr.services.daily_counts import daily_counts_refresh


class Command(BaseCommand):
    help = "Count closes, skips and surveys per day for the admin's dashboard (beat does today)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=30, help="Days back, today included.")

    def handle(self, *args, days: int, **options):
        rows = daily_counts_refresh(days=max(days, 1))
        self.stdout.write(f"{rows} daily count(s) written for the last {days} day(s)")

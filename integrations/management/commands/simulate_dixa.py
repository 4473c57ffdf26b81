import statistics

from django.core.management.base import BaseCommand, CommandError

from integrations.dixa import simulator


class Command(BaseCommand):
    help = "Send Dixa-style webhook deliveries (every event type, signed) to a relay URL."

    def add_arguments(self, parser):
        parser.add_argument(
            "--url", required=True, help="e.g. http://localhost:8000/api/dixa/relay"
        )
        parser.add_argument("--key", required=True, help="the API key Dixa sends as its token")
        parser.add_argument("--secret", help="the webhook's hex signing secret; unsigned without")
        parser.add_argument("--events", type=int, default=33)
        parser.add_argument("--rate", type=float, default=10.0, help="deliveries per second")
        parser.add_argument("--duplicates", action="store_true", help="repeat every 5th event")
        parser.add_argument("--bad-signatures", action="store_true", help="sign every 7th wrongly")
        parser.add_argument("--casing", choices=("snake", "camel"), default="snake")
        parser.add_argument("--seed", type=int)

    def handle(self, *args, **opts):
        if opts["bad_signatures"] and not opts["secret"]:
            raise CommandError("--bad-signatures needs --secret")
        deliveries = simulator.plan(
            events=opts["events"],
            key=opts["key"],
            secret=opts["secret"],
            casing=opts["casing"],
            duplicates=opts["duplicates"],
            bad_signatures=opts["bad_signatures"],
            seed=opts["seed"],
        )
        report = simulator.send(opts["url"], deliveries, rate=opts["rate"])
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(report.statuses.items()))
        errors = ", ".join(f"{name}: {n}" for name, n in report.errors.items()) or "none"
        median = statistics.median(report.latencies_ms) if report.latencies_ms else 0
        self.stdout.write(
            f"sent {report.sent} deliveries ({len(set(d.event_id for d in deliveries))} distinct "
            f"events); statuses {statuses}; transport errors {errors}; median {median:.1f} ms"
        )

"""Copy the customer's email and phone onto events stored before ingest kept them."""

from django.core.management.base import BaseCommand

from integrations.services.contacts import inbound_requesters_backfill


class Command(BaseCommand):
    help = (
        "Fill InboundEvent.requester_email/phone from the kept bodies of conversation events "
        "stored before ingest copied them (for the customer lookup). Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args, **options):
        count = inbound_requesters_backfill(batch_size=max(1, options["batch_size"]))
        self.stdout.write(f"{count} event(s) updated")

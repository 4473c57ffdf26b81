from django.core.management.base import BaseCommand, CommandError

from integrations.models import Account
from integrations.services.api_keys import api_key_create


class Command(BaseCommand):
    help = "Issue an API key for an account. The key is printed once, on the last line."

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True, help="the account's slug (or name)")
        parser.add_argument("--name", default="dixa-relay", help="a label for the key")

    def handle(self, *args, account, name, **options):
        target = (
            Account.objects.filter(slug=account).first()
            or Account.objects.filter(name=account).first()
        )
        if target is None:
            raise CommandError(f"no account with the slug or name {account!r}")
        issued = api_key_create(account=target, name=name)
        self.stdout.write(
            f"API key {issued.api_key.prefix}… for {target.name}; it is not stored, copy it now:"
        )
        self.stdout.write(issued.plaintext)

from django.core.management.base import BaseCommand, CommandError

from integrations.models import Account
from integrations.services.api_keys import api_key_create


class Command(BaseCommand):
    help = "Issue an API key for an account. The key is printed once, on the last line."

    def add_arguments(self, parser):
        parser.add_argument("--account", required=True, help="account name")
        parser.add_argument("--name", default="dixa-relay", help="a label for the key")

    def handle(self, *args, account, name, **options):
        try:
            target = Account.objects.get(name=account)
        except Account.DoesNotExist as exc:
            raise CommandError(f"no account named {account!r}") from exc
        issued = api_key_create(account=target, name=name)
        self.stdout.write(
            f"API key {issued.api_key.prefix}… for {target.name}; it is not stored, copy it now:"
        )
        self.stdout.write(issued.plaintext)

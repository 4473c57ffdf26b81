from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from integrations.services.management_tokens import management_token_create


class Command(BaseCommand):
    help = (
        "Issue a management API token for a staff user (docs/api.md). It acts as that user, "
        "scoped to their accounts. The token is printed once, on the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="the staff user's username")
        parser.add_argument("--name", default="api", help="a label for the token")

    def handle(self, *args, user, name, **options):
        owner = get_user_model()._default_manager.filter(**{"username": user}).first()
        if owner is None or not (owner.is_active and owner.is_staff):
            raise CommandError(f"no active staff user {user!r}")
        issued = management_token_create(user=owner, name=name)
        self.stdout.write(
            f"Management token {issued.token.prefix}… for {owner.get_username()}; "
            "it is not stored, copy it now:"
        )
        self.stdout.write(issued.plaintext)

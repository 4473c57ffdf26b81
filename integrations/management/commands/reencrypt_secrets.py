from django.core.management.base import BaseCommand

from integrations.services.secrets import secrets_reencrypt


class Command(BaseCommand):
    help = "Re-encrypt every stored secret with the first FIELD_ENCRYPTION_KEYS key."

    def handle(self, *args, **options):
        count = secrets_reencrypt()
        self.stdout.write(f"re-encrypted {count} row(s) with the newest key")

from django.core.management.base import BaseCommand

from integrations.services.roles import roles_sync


class Command(BaseCommand):
    help = "Create the 'Relay operator' and 'Account admin' groups (migrate does it too)."

    def handle(self, *args, **options):
        for name, count in roles_sync().items():
            self.stdout.write(f"{name}: {count} permission(s)")

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from config.env import env


class Command(BaseCommand):
    help = "Create a superuser when there is none (DJANGO_SUPERUSER_PASSWORD, or generated)."

    def handle(self, *args, **options):
        users = get_user_model().objects
        if users.filter(is_superuser=True).exists():
            self.stdout.write("superuser: already exists (log in with the password you chose)")
            return
        username = env("DJANGO_SUPERUSER_USERNAME", default="admin")
        password = env("DJANGO_SUPERUSER_PASSWORD", default="")
        generated = not password
        password = password or secrets.token_urlsafe(12)
        users.create_superuser(username=username, email="", password=password)
        if generated:
            self.stdout.write(
                f"superuser: created {username!r} with password {password} (shown once; "
                "set DJANGO_SUPERUSER_PASSWORD to choose it)"
            )
        else:
            self.stdout.write(f"superuser: created {username!r} with DJANGO_SUPERUSER_PASSWORD")

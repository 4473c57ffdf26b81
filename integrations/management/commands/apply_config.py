import json
from pathlib import Path

import yaml
from django.core.management.base import BaseCommand, CommandError

from integrations.progress import Progress
from integrations.services.config import ConfigError, config_apply


class Command(BaseCommand):
    help = "Create or update accounts from a YAML or JSON file (idempotent). See README."

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, file, **options):
        path = Path(file)
        try:
            text = path.read_text()
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            raise CommandError(str(exc)) from exc
        try:
            with Progress.for_command(self, "accounts applied") as progress:
                report = config_apply(data=data or {}, progress=progress)
        except ConfigError as exc:  # a ValueError too: caught first, so it says so
            raise CommandError(f"nothing applied: {exc}") from exc
        for label, names in (
            ("created", report.created),
            ("updated", report.updated),
            ("unchanged", report.unchanged),
        ):
            for name in names:
                self.stdout.write(f"{label}: {name}")
        for account, name, key in report.issued_keys:
            self.stdout.write(
                self.style.WARNING(f"new API key for {account} ({name}); shown once: ") + key
            )

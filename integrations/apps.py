from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Accounts and Dixa ingest"

    def ready(self) -> None:
        from integrations.services import processing  # noqa: F401  (registers its outbox)

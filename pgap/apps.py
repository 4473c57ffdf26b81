from django.apps import AppConfig


class PgapConfig(AppConfig):
    name = "pgap"
    verbose_name = "P-GAP"

from django.apps import AppConfig


class IvrConfig(AppConfig):
    name = "ivr"
    verbose_name = "IVR mappings and survey relay"

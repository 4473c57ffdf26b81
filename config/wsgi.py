import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

application = get_wsgi_application()

if settings.INGEST_FAST_PATH:
    from integrations.api.fast_path import RelayFastPath

    application = RelayFastPath(application)

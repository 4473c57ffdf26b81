"""gunicorn's settings file (`gunicorn -c config/gunicorn.py config.wsgi`): its own log lines
in the platform's format (LOG_FORMAT: json in production, console elsewhere)."""

import os

from integrations.structured_logs import configure, gunicorn_logconfig

production = os.environ.get("DJANGO_SETTINGS_MODULE", "").endswith(".production")
configure()
logconfig_dict = gunicorn_logconfig(
    os.environ.get("LOG_FORMAT", "json" if production else "console")
)

"""The platform's settings plus a bare view to compare against (benchmarks only)."""

from config.settings.local import *  # noqa: F403

DEBUG = False
ROOT_URLCONF = "bench.urls"
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}

"""The platform's settings plus the bare views to compare against (benchmarks only)."""

from config.settings.local import *  # noqa: F403

DEBUG = False
ROOT_URLCONF = "bench.urls"

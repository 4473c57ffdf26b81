"""Tests: PostgreSQL and Redis when they answer, SQLite and in-memory stand-ins when not.

`SERVICES_MISSING` names what is absent and why; tests marked `postgres`, `redis` or
`chromium` are skipped (or fail, with REQUIRE_SERVICES=1) when their service is in it.
"""

import importlib.util
import shutil
import socket
from pathlib import Path
from urllib.parse import urlparse

from config.settings.base import *  # noqa: F403
from config.settings.base import BASE_DIR, POSTGRESQL_OPTIONS, env

DEBUG = False
SECRET_KEY = "test-only-secret-key"  # noqa: S105
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Fixed so that worker and server subprocesses in end-to-end tests decrypt what tests wrote.
FIELD_ENCRYPTION_KEYS = ["zWTCa2T5V8sSrHXd6mX9BfsQtVIOwDQLnBhjTtCxRko="]
ALLOWED_HOSTS = ["*"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_BROKER_URL = "memory://"
CELERY_BROKER_TRANSPORT_OPTIONS = {}
ENQUEUE_BACKOFF_SECONDS = 0
AUTH_CACHE_SECONDS = 0  # tests change keys and secrets between requests
PGAP_SETUP_CACHE_SECONDS = 0  # and P-GAP setups between closes
LOGGING = {"version": 1, "disable_existing_loggers": False}

TEST_DATABASE_URL = env("TEST_DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/relay")
TEST_REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/15")
# Under pytest-xdist each process gets its own Redis database, counting down from the one
# above (as pytest-django gives each its own test database): tests flush theirs.
_xdist_worker = env("PYTEST_XDIST_WORKER", default="")
if _xdist_worker:
    _redis = urlparse(TEST_REDIS_URL)
    _db = int(_redis.path.strip("/") or 0) - int(_xdist_worker.removeprefix("gw"))
    if _db < 0:
        raise ValueError(f"{_xdist_worker}: no Redis database below {TEST_REDIS_URL}")
    TEST_REDIS_URL = _redis._replace(path=f"/{_db}").geturl()
# What the platform's own Redis users read (the rate limiter, health checks) stays off unless
# a test points it at TEST_REDIS_URL, as CI runs: an exported REDIS_URL is shared by every
# test process.
REDIS_URL = ""
SERVICES_MISSING: dict[str, str] = {}


def _answers(url: str, default_port: int) -> str | None:
    """None when something listens at the URL's host and port, else why not."""
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or default_port
    try:
        with socket.create_connection((host, port), timeout=1):
            return None
    except OSError as exc:
        return f"nothing answers at {host}:{port} ({exc.strerror or exc})"


_pg_problem = _answers(TEST_DATABASE_URL, 5432)
if _pg_problem:
    SERVICES_MISSING["postgres"] = _pg_problem
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / ".run" / "test.sqlite3",
            "TEST": {"NAME": None},  # in memory
        }
    }
else:
    DATABASES = {"default": env.db_url_config(TEST_DATABASE_URL)}
    # The driver options every deployment has (server-side binding, prepared statements).
    DATABASES["default"]["OPTIONS"] = dict(POSTGRESQL_OPTIONS)
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}"}

_redis_problem = _answers(TEST_REDIS_URL, 6379)
if _redis_problem:
    SERVICES_MISSING["redis"] = _redis_problem

# Browser tests: the system's Chromium, driven by Playwright (which never downloads one).
CHROMIUM_PATH = shutil.which("chromium") or "/usr/bin/chromium"
if importlib.util.find_spec("playwright") is None:
    SERVICES_MISSING["chromium"] = "no playwright package (requirements/dev.txt)"
elif not Path(CHROMIUM_PATH).exists():
    SERVICES_MISSING["chromium"] = "no chromium binary (apt-get install chromium)"

STATIC_ROOT = None  # WhiteNoise serves from the apps; nothing is collected in tests

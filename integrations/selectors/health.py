import os
import uuid
from pathlib import Path
from urllib.parse import urlparse

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection


def _down(exc: Exception) -> dict:
    return {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:200]}


def database_state() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return _down(exc)
    return {"status": "up", "vendor": connection.vendor}


def broker_state() -> dict:
    url = settings.CELERY_BROKER_URL
    scheme = urlparse(url).scheme
    try:
        if scheme.startswith("redis"):
            client = redis.Redis.from_url(
                url,
                socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
                socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
            )
            try:
                client.ping()
            finally:
                client.close()
        elif scheme == "filesystem":
            folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
            if not os.access(folder, os.W_OK):
                raise OSError(f"{folder} is not writable")
    except Exception as exc:
        return _down(exc)
    return {"status": "up", "transport": scheme}


def cache_state() -> dict:
    probe = f"readyz:{uuid.uuid4().hex}"
    try:
        cache.set(probe, "1", timeout=5)
        ok = cache.get(probe) == "1"
        cache.delete(probe)
    except Exception as exc:
        return _down(exc)
    return {"status": "up"} if ok else {"status": "down", "error": "cache did not return the probe"}

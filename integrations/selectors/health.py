"""The readiness checks. Each answers only "up" or "down" with a generic reason: /readyz is
public, and exception texts name hosts, ports, databases and paths. The details go to the
log (with any password in them masked)."""

import logging
import os
import re
import uuid
from pathlib import Path
from urllib.parse import urlparse

import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection

logger = logging.getLogger(__name__)
# user:password@ in any URL an exception quotes.
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]*@")


def _redacted(text: str) -> str:
    """`text` without URL credentials or the configured database password."""
    text = _URL_CREDENTIALS.sub("***@", text)
    password = settings.DATABASES.get("default", {}).get("PASSWORD")
    return text.replace(password, "***") if password else text


def _down(check: str, reason: str, exc: Exception | None = None) -> dict:
    """A failed check: logged in full, answered with `reason` only."""
    detail = f"{type(exc).__name__}: {exc}" if exc else reason
    logger.warning("readiness: %s is down: %s", check, _redacted(detail)[:500])
    return {"status": "down", "reason": reason}


def database_state() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return _down("database", "unreachable", exc)
    return {"status": "up"}


def _ping_redis(url: str) -> None:
    client = redis.Redis.from_url(
        url,
        socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
    )
    try:
        client.ping()
    finally:
        client.close()


def broker_state() -> dict:
    url = settings.CELERY_BROKER_URL
    scheme = urlparse(url).scheme
    if scheme == "filesystem":
        folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        if not os.access(folder, os.W_OK):
            return _down("broker", "not writable", OSError(f"{folder} is not writable"))
        return {"status": "up"}
    if scheme.startswith("redis"):
        try:
            _ping_redis(url)
        except Exception as exc:
            return _down("broker", "unreachable", exc)
    return {"status": "up"}


def cache_state() -> dict:
    probe = f"readyz:{uuid.uuid4().hex}"
    try:
        cache.set(probe, "1", timeout=5)
        ok = cache.get(probe) == "1"
        cache.delete(probe)
    except Exception as exc:
        return _down("cache", "unreachable", exc)
    return {"status": "up"} if ok else _down("cache", "did not return the probe")

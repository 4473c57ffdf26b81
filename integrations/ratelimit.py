"""At most `limit` requests per second per credential of an outside API, shared by every
worker through Redis (a fixed one-second window per name and credential): nps.today's
10/s per key, Dixa's 10/s per token.

Without Redis (the embedded broker on a laptop) or when Redis does not answer, it lets
requests through: losing the limiter must not stop the work, and the API answers 429 if we
overdo it, which the callers' retry policies honour."""

import hashlib
import logging
import time

import redis
from django.conf import settings

from integrations.redis_connection import connect

logger = logging.getLogger(__name__)
_client: redis.Redis | None = None


def _redis() -> redis.Redis | None:
    global _client
    if not settings.REDIS_URL:
        return None
    if _client is None:
        _client = connect()
    return _client


def wait_for_slot(name: str, credential: str, *, limit: int, max_wait: float = 5.0) -> float:
    """Block until `credential` of the API `name` may send; returns the seconds waited.
    After `max_wait` it sends anyway (the API's 429 is the last word)."""
    client = _redis()
    if client is None:
        return 0.0
    key_id = hashlib.sha256(credential.encode()).hexdigest()[:16]  # never the credential
    waited = 0.0
    while True:
        now = time.time()
        window = f"relay:{name}-rate:{key_id}:{int(now)}"
        try:
            pipe = client.pipeline()
            pipe.incr(window)
            pipe.expire(window, 2)
            count = pipe.execute()[0]
        except redis.RedisError as exc:
            logger.warning("rate limiter unavailable (%s); sending without it", exc)
            return waited
        if count <= limit or waited >= max_wait:
            return waited
        pause = int(now) + 1 - now + 0.001
        time.sleep(pause)
        waited += pause

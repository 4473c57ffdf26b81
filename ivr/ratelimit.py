"""At most NPSTODAY_RATE_LIMIT requests per second per nps.today key, shared by every
worker through Redis (a fixed one-second window). Without Redis (the embedded broker on a
laptop) or when Redis does not answer, it lets requests through: losing the limiter must
not stop surveys, and nps.today answers 429 if we overdo it, which the retry policy honours."""

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


def wait_for_slot(api_key: str, *, max_wait: float = 5.0) -> float:
    """Block until this key may send; returns the seconds waited."""
    client = _redis()
    if client is None:
        return 0.0
    key_id = hashlib.sha256(api_key.encode()).hexdigest()[:16]  # never the key itself
    waited = 0.0
    while True:
        now = time.time()
        window = f"relay:npstoday-rate:{key_id}:{int(now)}"
        try:
            pipe = client.pipeline()
            pipe.incr(window)
            pipe.expire(window, 2)
            count = pipe.execute()[0]
        except redis.RedisError as exc:
            logger.warning("rate limiter unavailable (%s); sending without it", exc)
            return waited
        if count <= settings.NPSTODAY_RATE_LIMIT or waited >= max_wait:
            return waited
        pause = int(now) + 1 - now + 0.001
        time.sleep(pause)
        waited += pause

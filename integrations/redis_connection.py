import redis
from django.conf import settings


def connect() -> redis.Redis:
    """A client for REDIS_URL that fails fast: Redis is never allowed to stall a caller."""
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
    )

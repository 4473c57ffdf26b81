"""Hand-off to Celery that never holds up a request.

The row is committed before we publish, so a failed publish loses nothing: the sweeper
finds the row later. After a failure we stop trying for ENQUEUE_BACKOFF_SECONDS, so an
outage costs each request nothing instead of a connection timeout.
"""

import logging
import time

from django.conf import settings

logger = logging.getLogger(__name__)

_paused_until = 0.0


def enqueue(task, *args) -> bool:
    global _paused_until
    if time.monotonic() < _paused_until:
        return False
    try:
        task.apply_async(args=args, retry=False)
    except Exception as exc:  # any broker error: the sweeper is the safety net
        _paused_until = time.monotonic() + settings.ENQUEUE_BACKOFF_SECONDS
        logger.warning(
            "enqueue of %s%r failed (%s); the sweeper will pick it up", task.name, args, exc
        )
        return False
    return True


def reset() -> None:
    global _paused_until
    _paused_until = 0.0

"""Publishing to Celery after a commit, without letting a broker outage hurt the caller.

Rows are committed before anything is published, so a failed or lost publish loses
nothing: the sweepers find the row later. After a broker failure `enqueue` stops trying
for ENQUEUE_BACKOFF_SECONDS, so an outage does not cost every call a timeout.
"""

import logging
import time

from django.conf import settings

logger = logging.getLogger(__name__)

_paused_until = 0.0


def enqueue(task, *args, countdown: float | None = None) -> bool:
    """Publish `task(*args)`; False when the broker refused it (or refused one recently)."""
    global _paused_until
    if time.monotonic() < _paused_until:
        return False
    options = {"countdown": countdown} if countdown else {}
    try:
        task.apply_async(args=args, retry=False, **options)
    except Exception as exc:  # any broker or Redis error: the sweepers are the safety net
        _paused_until = time.monotonic() + settings.ENQUEUE_BACKOFF_SECONDS
        logger.warning("enqueue of %s%r failed (%s); the sweeper will retry", task.name, args, exc)
        return False
    return True


def reset() -> None:
    global _paused_until
    _paused_until = 0.0

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


def _guarded(what: str, send) -> bool:
    """Run `send`; after a failure, skip every send for ENQUEUE_BACKOFF_SECONDS."""
    global _paused_until
    if time.monotonic() < _paused_until:
        return False
    try:
        send()
    except Exception as exc:  # any broker or Redis error: the sweeper is the safety net
        _paused_until = time.monotonic() + settings.ENQUEUE_BACKOFF_SECONDS
        logger.warning("%s failed (%s); the sweeper will retry", what, exc)
        return False
    return True


def enqueue(task, *args, countdown: float | None = None) -> bool:
    return _guarded(
        f"enqueue of {task.name}{args!r}",
        lambda: task.apply_async(
            args=args, retry=False, **({"countdown": countdown} if countdown else {})
        ),
    )


def reset() -> None:
    global _paused_until
    _paused_until = 0.0

"""P-GAP's Celery tasks (queue "dixa", served by worker-http): thin, they call services."""

from celery import shared_task
from django.utils import timezone

from ivr.retry_policy import retry_after

# The write-back's retry: the relay's discipline (5 tries, a minute apart; 429 honours
# Retry-After), as Celery countdowns: short waits, well under Redis' visibility timeout.
WRITE_BACK_TRIES = 5
WRITE_BACK_SPACING_SECONDS = 60


@shared_task(bind=True, acks_late=True)
def capture_predictions(self, prediction_ids: list[int]) -> None:
    from pgap.services.capture import prediction_capture

    for prediction_id in prediction_ids:
        prediction_capture(prediction_id=prediction_id)


@shared_task(bind=True, acks_late=True, max_retries=WRITE_BACK_TRIES - 1)
def write_back_customer_score(self, pair_id: int) -> str:
    """PATCH the pair's customer score into the setup's write-back attribute. No answer,
    429 and 5xx are retried (5 tries in all); a refusal ends it, logged."""
    from pgap.services.write_back import WriteBackRetry, customer_score_write_back

    try:
        return customer_score_write_back(pair_id=pair_id).detail
    except WriteBackRetry as exc:
        wait = retry_after(exc.retry_after, timezone.now())
        countdown = wait.total_seconds() if wait else WRITE_BACK_SPACING_SECONDS
        raise self.retry(exc=exc, countdown=min(countdown, 300)) from exc

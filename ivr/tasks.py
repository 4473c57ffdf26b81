from celery import shared_task


@shared_task(bind=True, acks_late=True)
def deliver_surveys(self, trigger_ids: list[int]) -> None:
    from ivr.services.delivery import triggers_deliver

    triggers_deliver(trigger_ids=trigger_ids, task_id=self.request.id or "")


@shared_task(acks_late=True, soft_time_limit=240, time_limit=270)
def count_daily() -> int:
    """Beat: today's and yesterday's counts for the dashboard."""
    from ivr.services.daily_counts import daily_counts_refresh

    return daily_counts_refresh()

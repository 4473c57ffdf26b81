from celery import shared_task


@shared_task(bind=True, acks_late=True)
def deliver_surveys(self, trigger_ids: list[int]) -> None:
    from ivr.services.delivery import trigger_deliver

    for trigger_id in trigger_ids:
        trigger_deliver(trigger_id=trigger_id, task_id=self.request.id or "")

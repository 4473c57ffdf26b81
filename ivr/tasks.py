from celery import shared_task


@shared_task(bind=True, acks_late=True)
def deliver_trigger(self, trigger_id: int) -> None:
    from ivr.services.delivery import trigger_deliver

    trigger_deliver(trigger_id=trigger_id, task_id=self.request.id or "")


@shared_task
def sweep_survey_triggers() -> None:
    from ivr.services.delivery import survey_triggers_sweep

    survey_triggers_sweep()

from celery import shared_task

from integrations import dispatcher  # noqa: F401  (starts the dispatcher in workers)


@shared_task(acks_late=True)
def process_inbound_events(event_pks: list[int]) -> None:
    from integrations.services.processing import inbound_event_process

    for pk in event_pks:
        inbound_event_process(event_pk=pk)


@shared_task
def sweep_inbound_events() -> None:
    from integrations.services.processing import inbound_events_sweep

    inbound_events_sweep()

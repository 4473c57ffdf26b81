from celery import shared_task


@shared_task(acks_late=True)
def process_inbound_events(event_pks: list[int]) -> None:
    from integrations.services.processing import inbound_event_process

    for pk in event_pks:
        inbound_event_process(event_pk=pk)


@shared_task(acks_late=True, soft_time_limit=300, time_limit=330)
def purge_expired() -> dict[str, int]:
    """Retention, run by beat: what is older than the RETENTION_* settings goes, in batches."""
    from integrations.retention import retention_purge

    return retention_purge()

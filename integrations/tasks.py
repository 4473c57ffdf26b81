from celery import shared_task
from django.utils.dateparse import parse_datetime

from integrations.clients.http import ApiUnavailable


@shared_task(acks_late=True)
def process_inbound_events(event_pks: list[int]) -> None:
    from integrations.services.processing import inbound_events_process

    inbound_events_process(event_pks)


@shared_task(acks_late=True, soft_time_limit=300, time_limit=330)
def purge_expired() -> dict[str, int]:
    """Retention, run by beat: what is older than the RETENTION_* settings goes, in batches."""
    from integrations.retention import retention_purge

    return retention_purge()


@shared_task(acks_late=True, soft_time_limit=120, time_limit=150)
def evaluate_alerts() -> dict[str, int]:
    """Beat, every minute: open and resolve alert incidents."""
    from integrations.alerts.services import alerts_evaluate

    evaluation = alerts_evaluate()
    return {"opened": len(evaluation.opened), "resolved": len(evaluation.resolved)}


@shared_task(acks_late=True, soft_time_limit=60, time_limit=75)
def notify_alert_incident(incident_pk: int) -> str:
    from integrations.alerts.notify import alert_incident_notify

    return alert_incident_notify(incident_pk=incident_pk)


# --- Dixa webhook subscription (integrations/services/dixa_*.py), on the dixa queue --------
# Dixa busy or silent (ApiUnavailable, which DixaError's 429/5xx are): retried with backoff.
DIXA_RETRY = {
    "autoretry_for": (ApiUnavailable,),
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "max_retries": 8,
    "acks_late": True,
}


@shared_task(bind=True, **DIXA_RETRY)
def dixa_action(self, account_id: int, action: str, requested_at: str | None = None) -> str:
    """An admin's Connect/Repair, Rotate key, Replace subscription, Disconnect or Check now,
    requested at `requested_at` (ISO 8601, the web's clock)."""
    from integrations.services.dixa_actions import dixa_action_run

    return dixa_action_run(
        account_id=account_id,
        action=action,
        requested_at=parse_datetime(requested_at) if requested_at else None,
        retried=self.request.retries < self.max_retries,  # ApiUnavailable: tried again
    ).message


@shared_task(**DIXA_RETRY)
def dixa_sync(account_id: int) -> bool:
    from integrations.services.dixa_sync import subscription_sync

    return subscription_sync(account_id=account_id)


@shared_task(acks_late=True)
def dixa_maintain() -> None:
    """Beat, often: due syncs (debounced or left by a busy Dixa), finished rotations."""
    from integrations.services.dixa_actions import dixa_maintain_run

    dixa_maintain_run()


@shared_task(acks_late=True, soft_time_limit=120, time_limit=150)
def dixa_watch() -> None:
    """Beat: read every subscription back and pull Dixa's delivery status and logs."""
    from integrations.services.dixa_actions import dixa_watch_run

    dixa_watch_run()

"""Evaluate every registered condition: open an incident for what is newly wrong, resolve the
incidents whose condition no longer holds, and notify each change once (after the commit)."""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from integrations.alerts.models import AlertIncident
from integrations.alerts.registry import Condition, Finding, conditions

logger = logging.getLogger(__name__)
NOTICE_GRACE = timedelta(minutes=2)


@dataclass
class Evaluation:
    opened: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    failed_conditions: list[str] = field(default_factory=list)


def alerts_evaluate(*, now: datetime | None = None) -> Evaluation:
    now = now or timezone.now()
    evaluation = Evaluation()
    for condition in conditions():
        try:
            findings = condition.findings(now=now)
        except Exception:
            # A broken check neither opens nor resolves anything: its incidents stay as they are.
            logger.exception("alert condition %s could not be evaluated", condition.key)
            evaluation.failed_conditions.append(condition.key)
            continue
        _apply(condition, findings, now, evaluation)
    _requeue_missed_notices(now)
    if evaluation.opened or evaluation.resolved:
        logger.info(
            "alerts: %d incident(s) opened, %d resolved",
            len(evaluation.opened),
            len(evaluation.resolved),
        )
    return evaluation


@transaction.atomic
def _apply(condition: Condition, findings: list[Finding], now, evaluation: Evaluation) -> None:
    from integrations.tasks import notify_alert_incident

    current = {(f.account_id, f.subject): f for f in findings}
    open_incidents = AlertIncident.objects.select_for_update().filter(
        condition=condition.key, resolved_at=None
    )
    for incident in open_incidents:
        finding = current.pop((incident.account_id, incident.subject), None)
        if finding is None:
            incident.resolved_at = now
            incident.save(update_fields=["resolved_at"])
            evaluation.resolved.append(incident.pk)
        else:
            incident.last_seen_at = now
            incident.detail = finding.detail
            incident.save(update_fields=["last_seen_at", "detail"])
    for finding in current.values():
        try:
            with transaction.atomic():
                incident = AlertIncident.objects.create(
                    account_id=finding.account_id,
                    condition=condition.key,
                    subject=finding.subject[:200],
                    detail=finding.detail,
                    opened_at=now,
                    last_seen_at=now,
                )
        except IntegrityError:
            continue  # another evaluation opened it meanwhile: still one incident
        evaluation.opened.append(incident.pk)
    for pk in evaluation.opened + evaluation.resolved:
        transaction.on_commit(partial(_enqueue_notify, notify_alert_incident, pk))


def _requeue_missed_notices(now: datetime) -> None:
    """Notices whose task never ran (the broker was down when the incident changed)."""
    from integrations.tasks import notify_alert_incident

    stale = now - NOTICE_GRACE
    missed = AlertIncident.objects.filter(
        Q(notified_at=None, resolved_at=None, opened_at__lt=stale)
        | Q(resolved_notified_at=None, resolved_at__lt=stale, notified_at__isnull=False)
    ).values_list("pk", flat=True)[:100]
    for pk in missed:
        _enqueue_notify(notify_alert_incident, pk)


def _enqueue_notify(task, pk: int) -> None:
    try:
        task.delay(pk)
    except Exception:  # the broker is down: the incident stays un-notified, the next run retries
        logger.warning("alert incident %s: notification not queued", pk, exc_info=True)


def open_incidents(accounts):
    """Open incidents of `accounts` (a queryset), newest first: the dashboard's banners."""
    return (
        AlertIncident.objects.filter(resolved_at=None, account__in=accounts)
        .select_related("account")
        .order_by("-opened_at")
    )

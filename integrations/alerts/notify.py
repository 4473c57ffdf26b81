"""Tell an account's people about an incident: by email and by a Slack-compatible webhook.
Each incident is announced once when it opens and once when it is resolved."""

import logging

import httpx
from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Q
from django.utils import timezone

from integrations.alerts.destinations import webhook_refusal
from integrations.alerts.models import AlertIncident, AlertSettings
from integrations.alerts.registry import title_of
from integrations.clients.http import NO_ANSWER, client, no_answer

logger = logging.getLogger(__name__)
WEBHOOK_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def message(incident: AlertIncident) -> tuple[str, str]:
    """The subject line and the text of the notice."""
    title = title_of(incident.condition)
    about = f" ({incident.subject})" if incident.subject else ""
    if incident.resolved_at:
        subject = f"[relay] Resolved: {title}{about}, {incident.account}"
        text = (
            f"Resolved: {title}{about} for {incident.account}. "
            f"Open from {incident.opened_at:%Y-%m-%d %H:%M} to "
            f"{incident.resolved_at:%Y-%m-%d %H:%M} UTC. Last seen: {incident.detail}"
        )
    else:
        subject = f"[relay] {title}{about}, {incident.account}"
        text = (
            f"{title}{about} for {incident.account}: {incident.detail} "
            f"(since {incident.opened_at:%Y-%m-%d %H:%M} UTC)"
        )
    return subject, text


def alert_incident_notify(*, incident_pk: int) -> str:
    """Send the notice this incident is due (opened or resolved), once. Returns what was done."""
    now = timezone.now()
    # Claim the notice first: a second worker (or a redelivered task) finds nothing to send.
    opened_claim = AlertIncident.objects.filter(
        pk=incident_pk, notified_at=None, resolved_at=None
    ).update(notified_at=now)
    resolved_claim = 0
    if not opened_claim:
        resolved_claim = AlertIncident.objects.filter(
            Q(pk=incident_pk, resolved_notified_at=None) & ~Q(resolved_at=None)
        ).update(resolved_notified_at=now)
    if not (opened_claim or resolved_claim):
        return "nothing due"
    incident = AlertIncident.objects.select_related("account").get(pk=incident_pk)
    if resolved_claim and incident.notified_at is None:
        # Resolved before its opening notice went out: say nothing at all.
        return "resolved before notice"
    channel = AlertSettings.objects.filter(account_id=incident.account_id).first()
    if channel is None:
        return "no alert settings"
    errors = _send(channel, incident)
    if errors:
        AlertIncident.objects.filter(pk=incident_pk).update(notify_error="; ".join(errors))
        logger.warning("alert %s for %s: %s", incident.condition, incident.account, errors)
        return "failed"
    logger.info(
        "alert %s for %s: %s notice sent",
        incident.condition,
        incident.account,
        "resolved" if resolved_claim else "opened",
    )
    return "sent"


def alert_test_send(*, channel: AlertSettings) -> list[str]:
    """A test notice on the account's channels; the errors, if any (none: both got it)."""
    now = timezone.now()
    sample = AlertIncident(
        account=channel.account,
        condition="Test alert",  # not a registered key: shown as it is
        detail="a test notice sent from the admin: alerts reach you here.",
        opened_at=now,
        last_seen_at=now,
    )
    return _send(channel, sample)


def _send(channel: AlertSettings, incident: AlertIncident) -> list[str]:
    subject, text = message(incident)
    errors = []
    if channel.recipients:
        try:
            send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, channel.recipients)
        except Exception as exc:  # SMTP errors come in many classes; report and go on
            errors.append(f"email: {type(exc).__name__}")
    refusal = webhook_refusal(channel.webhook_url) if channel.webhook_url else None
    if refusal:
        errors.append(f"webhook: not sent, {refusal}")
    elif channel.webhook_url:
        body = {
            "text": text,
            "alert": {
                "condition": incident.condition,
                "title": title_of(incident.condition),
                "state": "resolved" if incident.resolved_at else "firing",
                "account": incident.account.slug,
                "subject": incident.subject,
                "detail": incident.detail,
                "opened_at": incident.opened_at.isoformat(),
                "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
            },
        }
        try:
            response = client().post(channel.webhook_url, json=body, timeout=WEBHOOK_TIMEOUT)
        except NO_ANSWER as exc:
            errors.append(no_answer("webhook", exc, channel.webhook_url))
        else:
            if not 200 <= response.status_code < 300:
                errors.append(f"webhook: answered {response.status_code}")
    return errors

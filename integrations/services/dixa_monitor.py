"""Dixa's view of its deliveries to us: the last delivery per event type and the logs
behind it, pulled by beat, kept once per delivery, and reconciled with what we stored.

A delivery Dixa reports as accepted must be an InboundEvent here (we answer 2xx only after
the commit): one that is not is flagged loudly. Failures keep Dixa's code and text.
"""

import json
import logging
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from integrations.clients import dixa
from integrations.dixa.envelope import storable
from integrations.models import DixaConnection, DixaDeliveryLog, DixaDeliveryStatus, InboundEvent
from integrations.services.dixa_webhooks import mapping

logger = logging.getLogger(__name__)
Reconciliation = DixaDeliveryLog.Reconciliation
MAX_TEXT = 500


def _text(value, limit: int = MAX_TEXT) -> str:
    """Dixa's text as PostgreSQL can keep it (no NUL, no lone surrogate), bounded."""
    return storable(str(value))[:limit] if value is not None else ""


def _when(value) -> datetime | None:
    try:
        moment = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well-formed but impossible, e.g. month 13
        return None
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)
    return moment


def _event_id(payload) -> str:
    try:
        body = json.loads(payload) if isinstance(payload, str) else payload
    except ValueError:
        return ""
    event_id = mapping(body).get("event_id") or mapping(body).get("eventId")
    return _text(event_id, 255) if isinstance(event_id, str | int) else ""


def _success(detail: dict) -> bool | None:
    value = detail.get("success")
    return value if isinstance(value, bool) else None


def _code(detail: dict) -> int | None:
    code = detail.get("responseCode")
    if isinstance(code, int) and not isinstance(code, bool) and -(2**31) < code < 2**31:
        return code
    return None


def _event(entry: dict) -> str:
    event = entry.get("event")
    return _text(event, 100) if isinstance(event, str) else ""


def delivery_status_pull(*, connection: DixaConnection) -> dict[str, int]:
    """Pull the status and logs of the subscription; returns counts of new log rows by
    reconciliation. Raises ApiUnavailable/DixaError when Dixa does not answer."""
    token, subscription_id = connection.api_token, connection.subscription_id
    now = timezone.now()
    statuses = dixa.webhook_delivery_status(token, subscription_id)
    logs: dict[str, list[dict]] = {}
    for entry in statuses:
        event, status = _event(entry), mapping(entry.get("deliveryStatus"))
        if event and status and status.get("_type", "DeliveryDetail") == "DeliveryDetail":
            logs[event] = dixa.webhook_delivery_logs(token, subscription_id, event)
    with transaction.atomic():
        counts = _store_logs(connection, subscription_id, logs, now)
        for entry in statuses:
            _store_status(connection, entry, logs.get(_event(entry)) or [], now)
        connection.status_pulled_at = now
        connection.save(update_fields=["status_pulled_at"])
    if counts.get(Reconciliation.MISSING):
        logger.error(
            "Dixa reports %d accepted deliveries to account %s that are not recorded here",
            counts[Reconciliation.MISSING],
            connection.account_id,
        )
    return counts


def _store_status(connection, entry: dict, logs: list[dict], now) -> None:
    event = _event(entry)
    if not event:
        return
    detail = mapping(entry.get("deliveryStatus"))
    details = [mapping(log.get("deliveryDetail")) for log in logs] + [detail]
    successes = [_when(d.get("deliveryTimestamp")) for d in details if _success(d) is True]
    failures = [(_when(d.get("deliveryTimestamp")), d) for d in details if _success(d) is False]
    failures = [(moment, d) for moment, d in failures if moment]
    values = {
        "last_delivery_at": _when(detail.get("deliveryTimestamp")),
        "last_success": _success(detail),
        "last_response_code": _code(detail),
        "last_response_text": _text(detail.get("responseText")),
        "pulled_at": now,
    }
    if any(successes):
        values["last_success_at"] = max(t for t in successes if t)
    if failures:
        moment, last_failure = max(failures, key=lambda pair: pair[0])
        code, text = _code(last_failure), _text(last_failure.get("responseText"))
        values["last_failure_at"] = moment
        values["last_failure_reason"] = (f"{code} {text}" if code else text or "no answer")[
            :MAX_TEXT
        ]
    DixaDeliveryStatus.objects.update_or_create(
        connection=connection, event_type=event, defaults=values
    )


def _store_logs(connection, subscription_id: str, logs: dict[str, list[dict]], now) -> dict:
    rows = []
    for event, entries in logs.items():
        for entry in entries:
            detail = mapping(entry.get("deliveryDetail"))
            delivered_at = _when(detail.get("deliveryTimestamp"))
            if delivered_at is None:
                continue
            rows.append(
                DixaDeliveryLog(
                    connection=connection,
                    subscription_id=subscription_id,
                    event_type=event,
                    event_id=_event_id(entry.get("payload")),
                    delivered_at=delivered_at,
                    success=_success(detail) is True,
                    response_code=_code(detail),
                    response_text=_text(detail.get("responseText")),
                    pulled_at=now,
                )
            )
    recorded = set(
        InboundEvent.objects.filter(
            account_id=connection.account_id,
            event_id__in={row.event_id for row in rows if row.success and row.event_id},
        ).values_list("event_id", flat=True)
    )
    for row in rows:
        if not row.success:
            row.reconciliation = Reconciliation.FAILED
        elif not row.event_id:
            row.reconciliation = Reconciliation.UNREADABLE
        else:
            row.reconciliation = (
                Reconciliation.RECORDED if row.event_id in recorded else Reconciliation.MISSING
            )
    known = set(
        DixaDeliveryLog.objects.filter(
            connection=connection, delivered_at__in={row.delivered_at for row in rows}
        ).values_list("event_type", "event_id", "delivered_at", "response_code")
    )
    new = [
        row
        for row in rows
        if (row.event_type, row.event_id, row.delivered_at, row.response_code) not in known
    ]
    DixaDeliveryLog.objects.bulk_create(new, ignore_conflicts=True)
    counts: dict[str, int] = {}
    for row in new:
        counts[row.reconciliation] = counts.get(row.reconciliation, 0) + 1
    return counts

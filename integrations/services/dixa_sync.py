"""Keeping Dixa's subscription in step with the mappings, and noticing hand edits.

A mapping added, disabled or removed asks for a sync (`subscription_sync_request`): the
connection gets a due time a few seconds on, so a burst of edits makes one PATCH; a task
runs it then, and beat's sweep runs any due sync a lost task or a busy Dixa left behind.

The periodic check reads the subscription back: deleted in Dixa → missing; changed by
hand → drifted (what differs, in words); disabled by Dixa → disabled. Each waits for the
admin's Repair (a Connect), which puts it back. When Dixa still holds what we last applied
but the account now needs something else (P-GAP switched on), the check syncs instead.
"""

import logging
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from integrations.clients import dixa
from integrations.clients.http import ApiUnavailable
from integrations.models import DixaConnection
from integrations.services.dixa_webhooks import (
    State,
    desired_subscription,
    differences,
    record,
    refused_sentence,
)
from integrations.services.queueing import enqueue

logger = logging.getLogger(__name__)
SYNCED_STATES = (State.CONNECTED,)
WATCHED_STATES = (State.CONNECTED, State.DRIFTED, State.MISSING, State.DISABLED)


def subscription_sync_request(*, account_id: int) -> bool:
    """Ask for a queue-filter sync a few seconds from now (debounced). False when the
    account is not connected to Dixa."""
    from integrations.tasks import dixa_sync

    delay = settings.DIXA_SYNC_DEBOUNCE_SECONDS
    due = timezone.now() + timedelta(seconds=delay)
    connected = DixaConnection.objects.filter(account_id=account_id, state__in=SYNCED_STATES)
    if not connected.exists():
        return False
    if connected.filter(sync_due_at__isnull=True).update(sync_due_at=due):
        # Lost (the broker down): beat's dixa-maintain runs the due sync.
        transaction.on_commit(partial(enqueue, dixa_sync, account_id, countdown=delay))
    return True


def due_syncs() -> list[int]:
    return list(
        DixaConnection.objects.filter(
            sync_due_at__lte=timezone.now(), state__in=SYNCED_STATES
        ).values_list("account_id", flat=True)
    )


def subscription_sync(*, account_id: int) -> bool:
    """PATCH the queue filter, events and enabled flag if the sync is due; True if sent.
    Dixa busy or silent: the sync stays due a minute on and ApiUnavailable is raised."""
    now = timezone.now()
    claimed = DixaConnection.objects.filter(
        account_id=account_id, sync_due_at__lte=now, state__in=SYNCED_STATES
    )
    due_at = claimed.values_list("sync_due_at", flat=True).first()
    if due_at is None or not claimed.filter(sync_due_at=due_at).update(sync_due_at=None):
        return False
    connection = DixaConnection.objects.select_related("account").get(account_id=account_id)
    try:
        _patch(connection)
    except dixa.DixaError as exc:
        if exc.busy:
            _retry_later(connection, exc)
            raise
        state = State.MISSING if exc.status == 404 else State.FAILED
        record(connection, state, f"Queue filter not synced: {refused_sentence(exc.status)}")
    except ApiUnavailable as exc:
        _retry_later(connection, exc)
        raise
    return True


def _patch(connection: DixaConnection) -> None:
    desired = desired_subscription(connection.account)
    data = dixa.webhook_patch(
        connection.api_token, connection.subscription_id, desired.body(with_enabled=True)
    )
    enabled = bool(data.get("enabled", desired.enabled))
    record(
        connection,
        State.CONNECTED,
        f"Synced: {len(desired.queue_ids)} queue(s), {', '.join(desired.events)}"
        + ("" if enabled else "; disabled until a mapping is enabled")
        + ".",
        events=desired.events,
        queue_ids=desired.queue_ids,
        enabled=enabled,
        synced_at=timezone.now(),
    )


def _retry_later(connection: DixaConnection, exc: Exception) -> None:
    retry_at = timezone.now() + timedelta(seconds=settings.DIXA_SYNC_RETRY_SECONDS)
    DixaConnection.objects.filter(pk=connection.pk, sync_due_at__isnull=True).update(
        sync_due_at=retry_at
    )
    record(connection, connection.state, f"Sync waits for Dixa ({exc}); retrying.")


def subscription_check(*, connection: DixaConnection) -> str:
    """Read the subscription back from Dixa and record what it found; returns the state."""
    try:
        subscription = dixa.webhook_get(connection.api_token, connection.subscription_id)
    except dixa.DixaError as exc:
        if exc.status == 404:
            record(
                connection,
                State.MISSING,
                f"Subscription {connection.subscription_id} no longer exists in Dixa "
                "(deleted by hand?). Repair creates it again.",
                checked_at=timezone.now(),
            )
            return State.MISSING
        if exc.refused_token:
            record(connection, State.FAILED, refused_sentence(exc.status))
            return State.FAILED
        raise
    now = timezone.now()
    found = differences(subscription, connection)
    if found:
        record(
            connection,
            State.DRIFTED,
            "Changed in Dixa: " + "; ".join(found) + ". Repair puts ours back.",
            checked_at=now,
        )
        return State.DRIFTED
    if connection.enabled and not subscription.get("enabled", True):
        record(
            connection,
            State.DISABLED,
            "Dixa has disabled the subscription (after repeated failed deliveries, or by "
            "hand). Repair enables it again.",
            checked_at=now,
        )
        return State.DISABLED
    desired = desired_subscription(connection.account)
    if desired.events != sorted(connection.events) or desired.queue_ids != sorted(
        connection.queue_ids
    ):
        DixaConnection.objects.filter(pk=connection.pk, sync_due_at__isnull=True).update(
            sync_due_at=now
        )
    detail = connection.detail if connection.state == State.CONNECTED else "In step with Dixa."
    record(connection, State.CONNECTED, detail, checked_at=now)
    return State.CONNECTED

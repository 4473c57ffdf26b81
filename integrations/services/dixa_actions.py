"""The named actions on an account's Dixa connection (admin, command and tasks call these),
and the two beat runs that keep connections in step and watched."""

import logging

from django.utils import timezone

from integrations.clients.http import ApiUnavailable
from integrations.models import Account, DixaConnection
from integrations.services import dixa_monitor, dixa_rotate, dixa_sync
from integrations.services.dixa_audit import credentials_audited
from integrations.services.dixa_connect import Outcome, dixa_connect
from integrations.services.dixa_disconnect import dixa_disconnect
from integrations.services.queueing import enqueue

logger = logging.getLogger(__name__)
State = DixaConnection.State

ACTIONS = {
    "connect": lambda account: dixa_connect(account=account),
    "key_rotate": lambda account: dixa_rotate.dixa_key_rotate(account=account),
    "subscription_replace": lambda account: dixa_rotate.dixa_subscription_replace(account=account),
    "disable": lambda account: dixa_disconnect(account=account, delete=False),
    "delete": lambda account: dixa_disconnect(account=account, delete=True),
    "watch": lambda account: dixa_watch_account(account),
}
LABELS = {
    "connect": "Connect / repair",
    "key_rotate": "Rotate relay key",
    "subscription_replace": "Replace subscription (new secret)",
    "disable": "Disconnect (disable in Dixa)",
    "delete": "Disconnect (delete in Dixa)",
    "watch": "Check now",
}


def dixa_action_run(
    *, account_id: int, action: str, requested_at=None, retried: bool = False
) -> Outcome:
    """Run `action` on the account's connection. Once it has an outcome, or raised for good,
    the admin's request it answers (`requested_at`, the web's own stamp, carried in the
    task's arguments) and any older one are done: a newer one waits for its own run.
    `retried`: Dixa busy or silent (ApiUnavailable) is tried again later (the task's
    retries), so the request still waits."""
    if action not in ACTIONS:
        raise ValueError(f"unknown Dixa action {action!r}")
    account = Account.objects.get(pk=account_id)
    try:
        with credentials_audited(account, f"Dixa: {LABELS[action]}"):
            outcome = ACTIONS[action](account)
    except Exception as exc:
        if not (retried and isinstance(exc, ApiUnavailable)):
            _answered(account_id, requested_at, detail=f"{LABELS[action]} did not finish: {exc}")
        raise
    _answered(account_id, requested_at)
    logger.info("Dixa %s for account %s: %s", action, account, outcome.message)
    return outcome


def dixa_action_request(*, account: Account, action: str) -> bool:
    """Queue `action` for the account and mark it requested on its connection (the admin's
    page waits for it); False, and the mark as it was, when the broker refused it."""
    from integrations.tasks import dixa_action

    if action not in ACTIONS:
        raise ValueError(f"unknown Dixa action {action!r}")
    connection = DixaConnection.objects.filter(account=account)
    before = connection.values("action_requested", "action_requested_at").first()
    # Marked before it is queued: a worker quicker than this request still finds the mark.
    requested_at = timezone.now()
    connection.update(action_requested=action, action_requested_at=requested_at)
    if enqueue(dixa_action, account.pk, action, requested_at.isoformat()):
        return True
    if before is not None:
        connection.filter(action_requested_at=requested_at).update(**before)
    return False


def _answered(account_id: int, requested_at, *, detail: str = "") -> None:
    """The request stamped `requested_at` (and any older) has its answer: on the page, the
    connection's state and detail, or `detail` when the action raised. None (the command,
    not a request): the detail only."""
    connection = DixaConnection.objects.filter(account_id=account_id)
    if detail:
        connection.update(detail=detail[:1000])
    if requested_at is not None:
        connection.filter(action_requested_at__lte=requested_at).update(
            action_requested="", action_requested_at=None
        )


def dixa_maintain_run() -> None:
    for account_id in dixa_sync.due_syncs():
        try:
            dixa_sync.subscription_sync(account_id=account_id)
        except ApiUnavailable as exc:
            logger.warning("Dixa sync of account %s waits: %s", account_id, exc)
    try:
        dixa_rotate.rotations_finish()
    except ApiUnavailable as exc:
        logger.warning("a Dixa rotation waits: %s", exc)


def dixa_watch_account(account: Account) -> Outcome:
    """Read the subscription back and pull Dixa's delivery status and logs."""
    connection = DixaConnection.objects.select_related("account", "api_key").get(account=account)
    if connection.state not in dixa_sync.WATCHED_STATES:
        return Outcome(False, f"Not watched: {connection.get_state_display()}.")
    state = dixa_sync.subscription_check(connection=connection)
    if state not in (State.MISSING, State.FAILED):
        dixa_monitor.delivery_status_pull(connection=connection)
    connection.refresh_from_db()
    return Outcome(state == State.CONNECTED, connection.detail)


def dixa_watch_run() -> None:
    watched = DixaConnection.objects.select_related("account").filter(
        state__in=dixa_sync.WATCHED_STATES
    )
    for connection in watched:
        try:
            dixa_watch_account(connection.account)
        except ApiUnavailable as exc:
            logger.warning("Dixa did not answer the check of %s: %s", connection.account, exc)

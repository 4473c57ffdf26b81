"""Connect Dixa: create or update the account's webhook subscription through Dixa's API.

Idempotent: ours is found by the id we stored, then by our relay URL (a create whose answer
was lost), and updated; a second one is never made. The relay key goes into the
subscription's Token authorization; the secretKey Dixa returns becomes a signing secret
and signatures are required. A refused token leaves nothing half made: the key issued for
the attempt is revoked and the account shows Dixa's answer in a sentence.

Raises ApiUnavailable when Dixa is busy or does not answer (the task retries with backoff).
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from integrations.clients import dixa
from integrations.clients.http import ApiUnavailable
from integrations.models import Account, DixaConnection
from integrations.selectors.dixa import UNCONNECTED_STATES
from integrations.services.api_keys import IssuedKey, api_key_create, api_key_revoke
from integrations.services.dixa_webhooks import (
    Desired,
    State,
    authorization_matches,
    connection_for,
    desired_subscription,
    record,
    refused_sentence,
    secret_adopt,
    subscription_id_of,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str


PUBLIC_URL_MISSING = (
    "PUBLIC_URL is not set: Dixa needs the platform's public https address to deliver to "
    "(e.g. PUBLIC_URL=https://relay.example.com)."
)


@sensitive_variables("api_token")
def dixa_connect(*, account: Account, api_token: str | None = None) -> Outcome:
    """Connect (or repair): make Dixa's subscription match what the account needs."""
    connection = connection_for(account)
    if api_token:
        connection.api_token = api_token
        connection.save(update_fields=["api_token"])
    # What is missing here is ours to fix, not Dixa's: Dixa is not asked, and the state
    # stays as it is. A connection with a subscription keeps its detail (what Dixa last
    # said, which its alert quotes); the Outcome says why nothing was done.
    if not connection.api_token:
        missing = "no Dixa API token. Enter one on the Dixa connection, then connect."
    elif not settings.PUBLIC_URL:
        missing = f"{PUBLIC_URL_MISSING} Set it where the platform runs, then connect."
    else:
        missing = ""
    if missing:
        message = f"Not asked: {missing}"
        if connection.state in UNCONNECTED_STATES:
            record(connection, connection.state, message)
        return Outcome(False, message)
    desired = desired_subscription(account)
    try:
        existing = find_subscription(connection, desired.url)
    except dixa.DixaError as exc:
        if exc.busy:
            _busy(connection, exc)
            raise
        return _refused(connection, exc)
    except ApiUnavailable as exc:
        _busy(connection, exc)
        raise
    issued = None
    if existing is None or not _holds_our_key(existing, connection):
        issued = api_key_create(account=account, name="Dixa webhook (Connect Dixa)")
    try:
        data = _apply(connection, desired, existing, issued)
        subscription_id_of(data)
    except dixa.DixaError as exc:
        if issued:
            api_key_revoke(api_key=issued.api_key)
        if exc.busy:
            _busy(connection, exc)
            raise
        return _refused(connection, exc)
    except ApiUnavailable as exc:
        # A create may have reached Dixa; the next try finds it by URL and gives it a key.
        if issued:
            api_key_revoke(api_key=issued.api_key)
        _busy(connection, exc)
        raise
    return _adopt(connection, desired, data, issued, created=existing is None)


def find_subscription(connection: DixaConnection, url: str) -> dict | None:
    """Ours in Dixa: by the stored id, else the first with our relay URL."""
    token = connection.api_token
    if connection.subscription_id:
        try:
            found = dixa.webhook_get(token, connection.subscription_id)
            if found.get("id") == connection.subscription_id:
                return found
        except dixa.DixaError as exc:
            if exc.status != 404:
                raise
    return next(
        (
            s
            for s in dixa.webhook_list(token)
            if s.get("url") == url and isinstance(s.get("id"), str)
        ),
        None,
    )


def _holds_our_key(subscription: dict, connection: DixaConnection) -> bool:
    matches = authorization_matches(subscription, connection.api_key)
    if matches is None:  # Dixa does not show it: trust our own record of the subscription
        return subscription.get("id") == connection.subscription_id and bool(
            connection.api_key and connection.api_key.is_active
        )
    return matches


@sensitive_variables("issued")
def _apply(connection, desired: Desired, existing: dict | None, issued: IssuedKey | None):
    key = issued.plaintext if issued else None
    if existing is None:
        return dixa.webhook_create(connection.api_token, desired.body(key=key))
    return dixa.webhook_patch(
        connection.api_token, subscription_id_of(existing), desired.body(key=key)
    )


@transaction.atomic
def _adopt(
    connection: DixaConnection,
    desired: Desired,
    data: dict,
    issued: IssuedKey | None,
    *,
    created: bool,
) -> Outcome:
    subscription_id = subscription_id_of(data)
    secret = secret_adopt(connection.account, str(data.get("secretKey") or ""), subscription_id)
    previous_secret = connection.signing_secret
    if previous_secret and secret and previous_secret.pk != secret.pk:
        # The old subscription is gone (deleted by hand, or replaced): its secret goes too.
        previous_secret.is_active = False
        previous_secret.save(update_fields=["is_active"])
    if issued:
        if connection.api_key and connection.api_key.is_active:
            api_key_revoke(api_key=connection.api_key)
        connection.api_key = issued.api_key
    enabled = bool(data.get("enabled", desired.enabled))
    verb = "created" if created else "updated"
    queues = f"{len(desired.queue_ids)} queue(s)" if desired.queue_ids else "no mapped queue"
    detail = (
        f"Subscription {subscription_id} {verb}: {', '.join(desired.events) or 'no events'}; "
        f"{queues}; {'enabled' if enabled else 'disabled until a mapping is enabled'}."
    )
    now = timezone.now()
    record(
        connection,
        State.CONNECTED,
        detail,
        subscription_id=subscription_id,
        subscription_url=desired.url,
        events=desired.events,
        queue_ids=desired.queue_ids,
        enabled=enabled,
        api_key=connection.api_key,
        signing_secret=secret or previous_secret,
        synced_at=now,
        checked_at=now,
        sync_due_at=None,
    )
    logger.info("Dixa subscription %s %s for account %s", subscription_id, verb, connection.account)
    return Outcome(True, detail)


def _refused(connection: DixaConnection, exc: "dixa.DixaError") -> Outcome:
    message = refused_sentence(exc.status)
    if not exc.refused_token:
        message = f"{message} {exc}"
    # A refused token does not undo a working subscription: it keeps its state otherwise.
    state = State.FAILED if connection.state == State.NOT_CONNECTED or exc.refused_token else None
    record(connection, state or connection.state, message)
    return Outcome(False, message)


def _busy(connection: DixaConnection, exc: Exception) -> None:
    record(connection, connection.state, f"Dixa is busy or unreachable ({exc}); retrying.")

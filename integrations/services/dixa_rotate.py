"""Rotation without downtime.

Relay key: a new key goes into the subscription's authorization (PATCH); the old one keeps
working until a delivery has authenticated with the new one, or the grace period ends.

Signing secret: Dixa gives a subscription its secret once, so a new secret means a new
subscription. It is created disabled, its secret (and a new key) stored, then enabled; the
old one keeps delivering (the same events: ingest stores each event id once) until the
overlap ends, when it is deleted and its secret and key retired. Both secrets are active
meanwhile, so a retry Dixa still owes on the old subscription is accepted.
"""

import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from integrations.clients import dixa
from integrations.models import Account, DixaConnection
from integrations.services.api_keys import api_key_create, api_key_revoke
from integrations.services.dixa_audit import credentials_audited
from integrations.services.dixa_connect import Outcome
from integrations.services.dixa_webhooks import (
    State,
    connection_for,
    desired_subscription,
    record,
    refused_sentence,
    secret_adopt,
    subscription_id_of,
)


def _ready(connection: DixaConnection) -> str | None:
    if connection.state != State.CONNECTED:
        return f"Not connected ({connection.get_state_display()}): connect or repair first."
    if connection.retiring_api_key_id or connection.retiring_subscription_id:
        return (
            f"A rotation started at {connection.retiring_since:%Y-%m-%d %H:%M} UTC is still "
            "under way; try again when it has finished."
        )
    return None


@sensitive_variables("issued")
def dixa_key_rotate(*, account: Account) -> Outcome:
    connection = connection_for(account)
    problem = _ready(connection)
    if problem:
        return Outcome(False, problem)
    issued = api_key_create(account=account, name="Dixa webhook (rotated)")
    authorization = {"_type": "TokenAuth", "value": issued.plaintext}
    try:
        dixa.webhook_patch(
            connection.api_token, connection.subscription_id, {"authorization": authorization}
        )
    except dixa.DixaError as exc:
        api_key_revoke(api_key=issued.api_key)
        if exc.busy:
            raise
        return Outcome(False, f"Key not rotated: {refused_sentence(exc.status)}")
    except Exception:
        api_key_revoke(api_key=issued.api_key)
        raise
    message = (
        f"Relay key rotated to {issued.api_key.prefix}…; the old key is revoked once Dixa "
        "has used the new one."
    )
    record(
        connection,
        connection.state,
        message,
        api_key=issued.api_key,
        retiring_api_key=connection.api_key,
        retiring_since=timezone.now(),
    )
    return Outcome(True, message)


@sensitive_variables("issued")
def dixa_subscription_replace(*, account: Account) -> Outcome:
    connection = connection_for(account)
    problem = _ready(connection)
    if problem:
        return Outcome(False, problem)
    desired = desired_subscription(account)
    issued = api_key_create(account=account, name="Dixa webhook (replacement)")
    body = desired.body(key=issued.plaintext, with_enabled=False) | {"enabled": False}
    token = connection.api_token
    try:
        data = dixa.webhook_create(token, body)
        new_id = subscription_id_of(data)
        secret = secret_adopt(account, str(data.get("secretKey") or ""), new_id)
        if secret is None:
            dixa.webhook_delete(token, new_id)
            api_key_revoke(api_key=issued.api_key)
            return Outcome(False, "Subscription not replaced: Dixa gave no usable secret key.")
        # Web processes keep an account's signing secrets for AUTH_CACHE_SECONDS: enabled
        # sooner, the new subscription's first deliveries would fail their signature check,
        # and Dixa disables a subscription after a streak of failures.
        time.sleep(settings.AUTH_CACHE_SECONDS)
        data = dixa.webhook_patch(token, new_id, {"enabled": desired.enabled})
    except dixa.DixaError as exc:
        api_key_revoke(api_key=issued.api_key)
        if exc.busy:
            raise
        return Outcome(False, f"Subscription not replaced: {refused_sentence(exc.status)}")
    except Exception:
        api_key_revoke(api_key=issued.api_key)
        raise
    message = (
        f"Subscription replaced by {new_id} with a new secret; the old one "
        f"({connection.subscription_id}) is deleted after the overlap."
    )
    with transaction.atomic():
        record(
            connection,
            connection.state,
            message,
            retiring_subscription_id=connection.subscription_id,
            retiring_secret=connection.signing_secret,
            retiring_api_key=connection.api_key,
            retiring_since=timezone.now(),
            subscription_id=new_id,
            signing_secret=secret,
            api_key=issued.api_key,
            events=desired.events,
            queue_ids=desired.queue_ids,
            enabled=bool(data.get("enabled", desired.enabled)),
        )
    return Outcome(True, message)


def rotations_finish() -> int:
    """Beat: retire what rotations left behind once it is safe. Returns how many finished."""
    finished = 0
    now = timezone.now()
    retiring = DixaConnection.objects.select_related(
        "account", "api_key", "retiring_api_key", "retiring_secret"
    ).exclude(retiring_since=None)
    for connection in retiring:
        step = _due_step(connection, now)
        if step is not None:
            with credentials_audited(connection.account, "Dixa: rotation finished"):
                step()
            finished += 1
    return finished


def _due_step(connection: DixaConnection, now) -> Callable[[], None] | None:
    """What finishes this connection's rotation now, if anything does yet."""
    if connection.retiring_subscription_id:
        overlap = timedelta(seconds=settings.DIXA_SECRET_OVERLAP_SECONDS)
        if now - connection.retiring_since >= overlap:
            return partial(_retire_subscription, connection)
        return None
    if _new_key_used(connection):
        return partial(_retire_key, connection, "after Dixa used the new key")
    if now - connection.retiring_since >= timedelta(seconds=settings.DIXA_KEY_GRACE_SECONDS):
        return partial(_retire_key, connection, "at the end of the grace period")
    return None


def _new_key_used(connection: DixaConnection) -> bool:
    key = connection.api_key
    return bool(key and key.last_used_at and key.last_used_at >= key.created_at)


def _retire_key(connection: DixaConnection, why: str) -> None:
    old = connection.retiring_api_key
    if old:
        api_key_revoke(api_key=old)
    record(
        connection,
        connection.state,
        f"Rotation finished: old key {old.prefix if old else '?'}… revoked {why}.",
        retiring_api_key=None,
        retiring_since=None,
    )


def _retire_subscription(connection: DixaConnection) -> None:
    try:
        dixa.webhook_delete(connection.api_token, connection.retiring_subscription_id)
    except dixa.DixaError as exc:
        if exc.status != 404:
            if exc.busy:
                raise
            record(
                connection,
                connection.state,
                f"The old subscription could not be deleted: {refused_sentence(exc.status)}",
            )
            return
    with transaction.atomic():
        if connection.retiring_secret:
            connection.retiring_secret.is_active = False
            connection.retiring_secret.save(update_fields=["is_active"])
        if connection.retiring_api_key:
            api_key_revoke(api_key=connection.retiring_api_key)
        record(
            connection,
            connection.state,
            f"Replacement finished: old subscription {connection.retiring_subscription_id} "
            "deleted, its secret and key retired.",
            retiring_subscription_id="",
            retiring_secret=None,
            retiring_api_key=None,
            retiring_since=None,
        )

"""Disconnect Dixa: disable (kept in Dixa, found again by Connect) or delete the
subscription, and revoke the relay keys it used."""

from django.db import transaction

from integrations.clients import dixa
from integrations.models import Account
from integrations.services.api_keys import api_key_revoke
from integrations.services.dixa_connect import Outcome
from integrations.services.dixa_webhooks import State, connection_for, record, refused_sentence


def dixa_disconnect(*, account: Account, delete: bool = False) -> Outcome:
    connection = connection_for(account)
    ids = [i for i in (connection.subscription_id, connection.retiring_subscription_id) if i]
    if not ids or connection.state in (State.NOT_CONNECTED, State.DISCONNECTED):
        return Outcome(False, "Not connected to Dixa: nothing to disconnect.")
    for subscription_id in ids:
        try:
            if delete:
                dixa.webhook_delete(connection.api_token, subscription_id)
            else:
                dixa.webhook_patch(connection.api_token, subscription_id, {"enabled": False})
        except dixa.DixaError as exc:
            if exc.busy:
                raise
            if exc.status != 404:
                message = f"Not disconnected: {refused_sentence(exc.status)}"
                record(connection, connection.state, message)
                return Outcome(False, message)
    with transaction.atomic():
        for key in (connection.api_key, connection.retiring_api_key):
            if key:
                api_key_revoke(api_key=key)
        if delete:
            for secret in (connection.signing_secret, connection.retiring_secret):
                if secret:
                    secret.is_active = False
                    secret.save(update_fields=["is_active"])
        verb = "deleted" if delete else "disabled"
        message = f"Disconnected: subscription {verb} in Dixa and its relay key revoked."
        record(
            connection,
            State.DISCONNECTED,
            message,
            enabled=False,
            api_key=None,
            retiring_api_key=None,
            retiring_subscription_id="",
            retiring_since=None,
            sync_due_at=None,
            subscription_id="" if delete else connection.subscription_id,
        )
    return Outcome(True, message)

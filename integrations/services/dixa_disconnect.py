"""Disconnect Dixa: disable (kept in Dixa, found again by Connect) or delete the
subscription, and revoke the relay keys it used."""

from django.db import transaction

from integrations.clients import dixa
from integrations.models import Account
from integrations.selectors.dixa import dixa_disconnect_targets
from integrations.services.api_keys import api_key_revoke
from integrations.services.dixa_connect import Outcome
from integrations.services.dixa_webhooks import State, connection_for, record, refused_sentence


def dixa_disconnect(*, account: Account, delete: bool = False) -> Outcome:
    connection = connection_for(account)
    targets = dixa_disconnect_targets(connection, delete=delete)
    if not targets.subscription_ids:
        return Outcome(False, "Not connected to Dixa: nothing to disconnect.")
    for subscription_id in targets.subscription_ids:
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
        for key in targets.api_keys:
            api_key_revoke(api_key=key)
        for secret in targets.secrets:  # only when deleting
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

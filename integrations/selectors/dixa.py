"""What is wrong with an account's Dixa subscription, in sentences for the console; what a
Disconnect would act on."""

from dataclasses import dataclass, field

from django.db.models import Q, QuerySet
from django.urls import reverse

from integrations.models import (
    Account,
    ApiKey,
    DixaConnection,
    DixaDeliveryLog,
    DixaDeliveryStatus,
    SigningSecret,
)

State = DixaConnection.State
ALERTING_STATES = (State.FAILED, State.DRIFTED, State.MISSING, State.DISABLED)
# A connection in these states has nothing left to disconnect.
UNCONNECTED_STATES = (State.NOT_CONNECTED, State.DISCONNECTED)


@dataclass(frozen=True)
class DisconnectTargets:
    """What Disconnect acts on: Dixa's subscriptions (the current one and one retiring in a
    rotation), the relay keys it revokes and, when it deletes, the signing secrets it
    deactivates. No subscription: nothing to disconnect."""

    subscription_ids: list[str] = field(default_factory=list)
    api_keys: list[ApiKey] = field(default_factory=list)
    secrets: list[SigningSecret] = field(default_factory=list)


def dixa_disconnect_targets(connection: DixaConnection, *, delete: bool) -> DisconnectTargets:
    """What `dixa_disconnect` would act on now (the admin's confirmation names it)."""
    ids = [i for i in (connection.subscription_id, connection.retiring_subscription_id) if i]
    if not ids or connection.state in UNCONNECTED_STATES:
        return DisconnectTargets()
    keys = [k for k in (connection.api_key, connection.retiring_api_key) if k]
    secrets = [s for s in (connection.signing_secret, connection.retiring_secret) if s]
    return DisconnectTargets(ids, keys, secrets if delete else [])


def dixa_disconnectable(connections: QuerySet[DixaConnection]) -> QuerySet[DixaConnection]:
    """The connections of `connections` that Disconnect would change."""
    has_subscription = ~Q(subscription_id="") | ~Q(retiring_subscription_id="")
    return connections.filter(has_subscription).exclude(state__in=UNCONNECTED_STATES)


def dixa_subscription_problems(account: Account) -> list[str]:
    """Empty when the subscription is connected and Dixa's last deliveries succeeded."""
    connection = DixaConnection.objects.filter(account=account).first()
    if connection is None or connection.state in (State.NOT_CONNECTED, State.DISCONNECTED):
        return []
    problems = []
    if connection.state in ALERTING_STATES:
        problems.append(f"Dixa subscription: {connection.get_state_display()}. {connection.detail}")
    for status in DixaDeliveryStatus.objects.filter(connection=connection, last_success=False):
        problems.append(
            f"Dixa's last {status.event_type} delivery failed "
            f"({status.last_response_code or 'no answer'} {status.last_response_text})".rstrip()
            + f" at {status.last_delivery_at:%Y-%m-%d %H:%M} UTC."
            if status.last_delivery_at
            else f"Dixa's last {status.event_type} delivery failed."
        )
    missing = DixaDeliveryLog.objects.filter(
        connection=connection, reconciliation=DixaDeliveryLog.Reconciliation.MISSING
    ).count()
    if missing:
        problems.append(
            f"{missing} deliveries Dixa reports as accepted are not recorded here: "
            "investigate at once (Dixa delivery logs, reconciliation 'missing')."
        )
    return problems


def dixa_subscription_findings(*, now):
    """The console's alert: a connected subscription Dixa disabled, that changed or vanished
    in Dixa, whose token Dixa refuses, or whose last deliveries failed."""
    from integrations.alerts import Finding

    watched = DixaConnection.objects.exclude(state__in=[State.NOT_CONNECTED, State.DISCONNECTED])
    for connection in watched.select_related("account"):
        problems = dixa_subscription_problems(connection.account)
        if problems:
            # No subject: an account has one connection, and its id means nothing to a reader.
            yield Finding(account_id=connection.account_id, detail=" ".join(problems))


def dixa_connection_page(account_id: int, subject: str) -> tuple[str, str] | None:
    """Where its alert is dealt with: the account's one Dixa connection."""
    pk = DixaConnection.objects.filter(account_id=account_id).values_list("pk", flat=True).first()
    if pk is None:
        return None
    return "Open the connection", reverse("admin:integrations_dixaconnection_change", args=[pk])

"""What is wrong with an account's Dixa subscription, in sentences for the console."""

from integrations.models import Account, DixaConnection, DixaDeliveryLog, DixaDeliveryStatus

State = DixaConnection.State
ALERTING_STATES = (State.FAILED, State.DRIFTED, State.MISSING, State.DISABLED)


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
            yield Finding(
                account_id=connection.account_id,
                detail=" ".join(problems),
                subject=str(connection.pk),
            )

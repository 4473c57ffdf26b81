"""Alerts: conditions registered by any app, evaluated by beat, one notification per incident
(email and a Slack-compatible JSON webhook, per account) and one when it is resolved.

Register a condition from an AppConfig.ready():

    from integrations.alerts import Finding, register

    def dixa_subscription_problems(*, now):
        for connection in ...:
            yield Finding(account_id=connection.account_id, subject=str(connection.pk),
                          detail="Dixa disabled the webhook subscription")

    register("dixa_subscription", "Dixa subscription disabled or failing",
             dixa_subscription_problems)

Each evaluation calls every condition once; what it yields is what is wrong *now*. A finding
not yielded any more resolves its incident.
"""

from integrations.alerts.registry import Condition, Finding, conditions, register

__all__ = ["Condition", "Finding", "conditions", "register"]

"""Alerts: conditions registered by any app, evaluated by beat, one notification per incident
(email and a Slack-compatible JSON webhook, per account) and one when it is resolved.

Register a condition from an AppConfig.ready():

    from integrations.alerts import Finding, register

    def mapping_problems(*, now):
        for mapping in ...:
            yield Finding(account_id=mapping.account_id, subject=mapping.name,
                          detail="its nps.today campaign is closed")

    register("mapping_problems", "Mapping needs attention", mapping_problems)

Each evaluation calls every condition once; what it yields is what is wrong *now*. A finding
not yielded any more resolves its incident.
"""

from integrations.alerts.registry import Condition, Finding, conditions, register

__all__ = ["Condition", "Finding", "conditions", "register"]

"""The dashboard's banners: open alert incidents and accounts nobody can verify."""

from django.urls import reverse

from integrations.admin.scoping import visible_accounts
from integrations.alerts.registry import action_of, title_of
from integrations.alerts.services import open_incidents
from integrations.dashboard import register_panel


def banners(request) -> dict:
    accounts = visible_accounts(request.user)
    items = []
    for incident in open_incidents(accounts)[:50]:
        action = action_of(incident.condition, incident.account_id, incident.subject)
        items.append(
            {
                "level": "error",
                "title": title_of(incident.condition),
                "account": incident.account.name,
                "text": incident.detail,
                "since": incident.opened_at,
                **({"link_text": action[0], "link": action[1]} if action else {}),
            }
        )
    for account in accounts.exclude(signing_secrets__is_active=True).order_by("name")[:50]:
        refused = account.require_signature
        items.append(
            {
                "level": "error" if refused else "warning",
                "title": "No signing secret",
                "account": account.name,
                "text": "Dixa's deliveries are "
                + ("refused" if refused else "accepted unverified, on the API key alone")
                + ": add the webhook's secret key from Dixa to the account.",
                "link_text": "Open the account",
                "link": reverse("admin:integrations_account_change", args=[account.pk]),
            }
        )
    # "Nothing needs attention." only where there is something to watch: with no account
    # yet, the dashboard's "Getting started" says what comes first.
    return {"banners": items, "watching": bool(items) or accounts.exists()}


register_panel("banners", "admin/dashboard/banners.html", banners, order=10)

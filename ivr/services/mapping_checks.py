"""Is a mapping's Dixa queue known to its token, and its campaign visible to the account's
nps.today key? For the form's save (through the cached selectors) and the mapping's "Test
connection" button (fresh)."""

from collections.abc import Callable

from integrations.clients import dixa, npstoday
from integrations.clients.http import ApiUnavailable
from integrations.services.connection_checks import Check, failed


def dixa_queue_check(
    token: str, queue_id: str, load: Callable[[str], list] = dixa.list_queues
) -> Check:
    if not token:
        return Check(ok=False, message="No Dixa API token is set, so the queue is not checked.")
    try:
        queues = load(token)
    except ApiUnavailable as exc:
        return failed("Dixa", "token", exc)
    found = next((q for q in queues if q.id == queue_id), None)
    if found is None:
        return Check(
            ok=False,
            unknown=True,
            message=f"Dixa has no queue {queue_id!r} for this token (it offers "
            f"{len(queues)}); choose one with “Load queues”.",
        )
    return Check(
        ok=True,
        name=found.name,
        message=f"Dixa accepted the token; queue “{found.name or found.id}” is one of its "
        f"{len(queues)} queue(s).",
    )


def npstoday_campaign_check(
    api_key: str, campaign_id: int, load: Callable[[str], list] = npstoday.list_campaigns
) -> Check:
    if not api_key:
        return Check(
            ok=False,
            message="The account has no nps.today API key, so the campaign is not checked.",
        )
    try:
        campaigns = load(api_key)
    except ApiUnavailable as exc:
        return failed("nps.today", "account's API key", exc)
    found = next((c for c in campaigns if c.id == campaign_id), None)
    if found is None:
        return Check(
            ok=False,
            unknown=True,
            message=f"nps.today has no campaign {campaign_id} for the account's key (it sees "
            f"{len(campaigns)}); choose one with “Load campaigns”.",
        )
    return Check(
        ok=True,
        name=found.name,
        message=f"nps.today accepted the key; campaign {campaign_id} “{found.name}” is one "
        f"of its {len(campaigns)} campaign(s).",
    )

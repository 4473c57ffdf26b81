"""Outside APIs' answers as sentences an admin can act on ("Dixa refused the token (401)"),
and the nps.today key check behind the account's "Test connection" button."""

from dataclasses import dataclass

from integrations.clients import npstoday
from integrations.clients.http import ApiUnavailable

REFUSED = (401, 403)


@dataclass(frozen=True)
class Check:
    ok: bool
    message: str
    # The API answered, and refused the credential (`refused`) or does not know the id
    # (`unknown`): unlike an API that does not answer, no "save anyway" for these.
    refused: bool = False
    unknown: bool = False
    name: str = ""


def refused(exc: ApiUnavailable) -> bool:
    return getattr(exc, "status", None) in REFUSED


def explain(service: str, credential: str, exc: ApiUnavailable) -> str:
    status = getattr(exc, "status", None)
    if status in REFUSED:
        return f"{service} refused the {credential} ({status})."
    if status == 429:
        return f"{service} is limiting our requests (429); try again in a minute."
    if status:
        return f"{service} answered {status} (it may be down)."
    # No answer: the client's message names the address tried and why (clients.http).
    text = str(exc).rstrip(".")
    return f"{text}." if text else f"{service} did not answer."


def failed(service: str, credential: str, exc: ApiUnavailable) -> Check:
    return Check(ok=False, message=explain(service, credential, exc), refused=refused(exc))


def npstoday_key_check(api_key: str) -> Check:
    """Whether nps.today accepts the key, and how many campaigns it sees."""
    if not api_key:
        return Check(ok=False, message="No nps.today API key is set.", refused=True)
    try:
        campaigns = npstoday.list_campaigns(api_key)
    except ApiUnavailable as exc:
        return failed("nps.today", "API key", exc)
    return Check(
        ok=True, message=f"nps.today accepted the key; it sees {len(campaigns)} campaign(s)."
    )

"""nps.today's public API: list campaigns, add a campaign member."""

from dataclasses import dataclass

import httpx
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from integrations.clients.http import client, get_json


@sensitive_variables("api_key")
def auth_headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"apikey {api_key}"}


@dataclass(frozen=True)
class Campaign:
    id: int
    name: str


@sensitive_variables("api_key")
def list_campaigns(api_key: str) -> list[Campaign]:
    data = get_json(f"{settings.NPSTODAY_API_URL}/campaigns/", headers=auth_headers(api_key))
    return [Campaign(id=int(c["id"]), name=str(c.get("name", ""))) for c in data if "id" in c]


def respondent_url(campaign_id: int) -> str:
    return f"{settings.NPSTODAY_API_URL}/campaigns/{campaign_id}/respondent"


@sensitive_variables("api_key")
def add_campaign_member(
    *, api_key: str, campaign_id: int, body: dict, idempotency_key: str
) -> httpx.Response:
    """POST the member. Raises httpx.HTTPError when there is no answer."""
    return client().post(
        respondent_url(campaign_id),
        json=body,
        headers={**auth_headers(api_key), "Idempotency-Key": idempotency_key},
    )

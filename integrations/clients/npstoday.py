"""nps.today's public API: list campaigns, add a campaign member, subscribe to new
responses, get a Feedback App token."""

import base64
import uuid
from dataclasses import dataclass
from urllib.parse import quote, unquote

import httpx
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from integrations.clients.http import NO_ANSWER, ApiUnavailable, client, get_json, no_answer


@sensitive_variables("api_key")
def auth_headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"apikey {api_key}"}


@dataclass(frozen=True)
class Campaign:
    id: int
    name: str


@sensitive_variables("api_key")
def list_campaigns(api_key: str) -> list[Campaign]:
    url = f"{settings.NPSTODAY_API_URL}/campaigns/"
    data = get_json(url, service="nps.today", headers=auth_headers(api_key))
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


# --- The Feedback App's token (what Dixa's custom card asks nps.today for) -------------------
def employees_token_url() -> str:
    return f"{settings.NPSTODAY_API_URL}/employees/token"


@sensitive_variables("api_key", "credentials")
def employees_token(*, api_key: str, body: dict, timeout: float) -> httpx.Response:
    """POST `body` ({employeeEmail?, customer_email, …}) as the card does, with Basic
    `ApiKey:<key>`. nps.today answers {token, echo: <the body>}. Raises httpx.HTTPError when
    there is no answer within `timeout` seconds."""
    credentials = base64.b64encode(f"ApiKey:{api_key}".encode()).decode()
    return client().post(
        employees_token_url(),
        json=body,
        headers={"Authorization": f"Basic {credentials}"},
        # Each phase within `timeout`; connecting and waiting for a pooled connection shorter.
        timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0), pool=min(timeout, 0.5)),
    )


# --- New-response webhooks (the connector's NewResponse trigger) -----------------------------
SUBSCRIPTION_TIMEOUT = 5.0


def subscriptions_url() -> str:
    return f"{settings.NPSTODAY_API_URL}/webhooks/subscriptions"


@sensitive_variables("api_key", "target_url")
def subscribe_responses(api_key: str, campaign_id: int, target_url: str) -> str:
    """Have nps.today post the campaign's new responses to `target_url`; the subscription's
    id ("" when nps.today names none). Raises ApiUnavailable, whose message never holds
    `target_url` (it carries our hook's secret)."""
    url = f"{subscriptions_url()}/responses"
    body = {"campaignId": campaign_id, "targetUrl": target_url, "eventType": "NewResponse"}
    headers = {**auth_headers(api_key), "Idempotency-Key": str(uuid.uuid4())}
    # The secret is the URL's last segment: an error text that echoes it is not kept.
    response = _send("POST", url, json=body, headers=headers, hide=target_url.rsplit("/", 1)[-1])
    return _subscription_id(response)


@sensitive_variables("api_key")
def delete_subscription(api_key: str, subscription_id: str) -> bool:
    """Delete the subscription; False when nps.today no longer has it (404). Raises
    ApiUnavailable on any other failure."""
    url = f"{subscriptions_url()}/{quote(subscription_id, safe='')}"
    response = _send("DELETE", url, headers=auth_headers(api_key), ok_statuses=(404,))
    return response.status_code != 404


def _send(method: str, url: str, *, hide: str = "", ok_statuses=(), **kwargs) -> httpx.Response:
    try:
        response = client().request(method, url, timeout=SUBSCRIPTION_TIMEOUT, **kwargs)
    except NO_ANSWER as exc:
        raise ApiUnavailable(no_answer("nps.today", exc, url)) from exc
    if not (200 <= response.status_code < 300 or response.status_code in ok_statuses):
        text = response.text.replace(hide, "…") if hide else response.text
        raise ApiUnavailable(f"{url} answered {response.status_code}: {text[:200]}")
    return response


def _subscription_id(response: httpx.Response) -> str:
    """The id from the answer's JSON (`id`, `Id`, `subscriptionId`), else the last segment
    of its Location header (Power Automate deletes a trigger through that header)."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        data = next(
            (data[k] for k in ("id", "Id", "subscriptionId", "SubscriptionId") if k in data), None
        )
    if isinstance(data, int | str) and not isinstance(data, bool) and str(data).strip():
        return str(data).strip()[:100]
    location = response.headers.get("Location", "")
    return unquote(location.rstrip("/").rsplit("/", 1)[-1])[:100] if location else ""

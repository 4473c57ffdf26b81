"""Dixa's REST API (the raw token goes in Authorization, as Dixa's own clients send it).

Queues for the mapping form; custom-attribute definitions, conversations and the PATCH of a
conversation's custom attributes for P-GAP. Failures raise `ApiUnavailable`: no answer, or
`DixaError` with Dixa's status (and Retry-After) for an error answer, so that callers can
tell a refused token (401/403) or an unknown conversation (404) from a busy Dixa (429, 5xx).
"""

import time
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from integrations.clients.http import NO_ANSWER, ApiUnavailable, client, get_json, no_answer

TIMEOUT = 5.0


@dataclass(frozen=True)
class Queue:
    id: str
    name: str


class DixaError(ApiUnavailable):
    """Dixa answered with an error status."""

    def __init__(self, message: str, *, status: int, retry_after: str | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    @property
    def refused_token(self) -> bool:
        return self.status in (401, 403)

    @property
    def busy(self) -> bool:
        """Worth another try later: rate-limited or a server error."""
        return self.status == 429 or self.status >= 500


@sensitive_variables("token")
def list_queues(token: str) -> list[Queue]:
    url = f"{settings.DIXA_API_URL}/v1/queues"
    body = get_json(url, service="Dixa", headers={"Authorization": token})
    return [Queue(id=q["id"], name=q.get("name", "")) for q in body.get("data", []) if "id" in q]


@sensitive_variables("token")
def _call(method: str, path: str, token: str, *, json: dict | None = None):
    """`data` of Dixa's answer; raises ApiUnavailable (no answer) or DixaError."""
    url = f"{settings.DIXA_API_URL}{path}"
    try:
        response = client().request(
            method, url, headers={"Authorization": token}, json=json, timeout=TIMEOUT
        )
    except NO_ANSWER as exc:
        raise ApiUnavailable(no_answer("Dixa", exc, url)) from exc
    if response.status_code != 200:
        raise DixaError(
            f"Dixa answered {response.status_code} to {method} {path}: {response.text[:200]}",
            status=response.status_code,
            retry_after=response.headers.get("retry-after"),
        )
    try:
        return response.json().get("data")
    except (ValueError, AttributeError) as exc:
        raise ApiUnavailable(f"Dixa's answer to {method} {path} is not a JSON object") from exc


@sensitive_variables("token")
def list_custom_attributes(token: str) -> list[dict]:
    """Every custom-attribute definition of the organisation (GET /v1/custom-attributes)."""
    data = _call("GET", "/v1/custom-attributes", token)
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []


@sensitive_variables("token")
def get_conversation(token: str, csid: int) -> dict:
    """The conversation as Dixa's API has it, `customAttributes` included."""
    data = _call("GET", f"/v1/conversations/{int(csid)}", token)
    return data if isinstance(data, dict) else {}


@sensitive_variables("token")
def patch_custom_attributes(token: str, csid: int, values: dict) -> list[dict]:
    """Set conversation custom attributes, keyed by the attributes' ids (a Select takes a
    list of option values, a Text a string). Returns the attributes Dixa reports."""
    data = _call("PATCH", f"/v1/conversations/{int(csid)}/custom-attributes", token, json=values)
    return data if isinstance(data, list) else []


# --- Webhook subscriptions (/beta/webhooks) ---------------------------------------------------
# Dixa's beta API for the subscriptions Connect Dixa makes. Each call waits for a slot of the
# token's 10/s, and retries 429 (after Retry-After) and 5xx a few times with backoff before
# raising; callers retry further from Celery. Create answers 201, delete 204.

WEBHOOKS = "/beta/webhooks"
WEBHOOK_TRIES = 3
WEBHOOK_BACKOFF = 0.5  # seconds, doubled per try
MAX_RETRY_AFTER = 5.0


def _retry_delay(error: "DixaError", attempt: int) -> float:
    try:
        return min(float(error.retry_after), MAX_RETRY_AFTER)
    except (TypeError, ValueError):
        return WEBHOOK_BACKOFF * 2**attempt


@sensitive_variables("token")
def _webhook_call(method: str, path: str, token: str, *, json: dict | None = None):
    """`data` of Dixa's answer (None for 204). 429 and 5xx are retried, then raised."""
    from integrations.ratelimit import wait_for_slot

    url = f"{settings.DIXA_API_URL}{path}"
    for attempt in range(WEBHOOK_TRIES):
        wait_for_slot("dixa", token, limit=settings.DIXA_RATE_LIMIT)
        try:
            response = client().request(
                method, url, headers={"Authorization": token}, json=json, timeout=TIMEOUT
            )
        except NO_ANSWER as exc:
            # Not retried here: a create may have been made; the caller looks it up first.
            raise ApiUnavailable(no_answer("Dixa", exc, url)) from exc
        if response.status_code in (200, 201, 204):
            break
        error = DixaError(
            f"Dixa answered {response.status_code} to {method} {path}: {response.text[:200]}",
            status=response.status_code,
            retry_after=response.headers.get("retry-after"),
        )
        if not error.busy or attempt == WEBHOOK_TRIES - 1:
            raise error
        time.sleep(_retry_delay(error, attempt))
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json().get("data")
    except (ValueError, AttributeError) as exc:
        raise ApiUnavailable(f"Dixa's answer to {method} {path} is not a JSON object") from exc


@sensitive_variables("token")
def webhook_list(token: str) -> list[dict]:
    data = _webhook_call("GET", WEBHOOKS, token)
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []


@sensitive_variables("token")
def webhook_get(token: str, subscription_id: str) -> dict:
    data = _webhook_call("GET", f"{WEBHOOKS}/{quote(subscription_id, safe='')}", token)
    return data if isinstance(data, dict) else {}


@sensitive_variables("token", "body")
def webhook_create(token: str, body: dict) -> dict:
    data = _webhook_call("POST", WEBHOOKS, token, json=body)
    return data if isinstance(data, dict) else {}


@sensitive_variables("token", "body")
def webhook_patch(token: str, subscription_id: str, body: dict) -> dict:
    data = _webhook_call("PATCH", f"{WEBHOOKS}/{quote(subscription_id, safe='')}", token, json=body)
    return data if isinstance(data, dict) else {}


@sensitive_variables("token")
def webhook_delete(token: str, subscription_id: str) -> None:
    _webhook_call("DELETE", f"{WEBHOOKS}/{quote(subscription_id, safe='')}", token)


@sensitive_variables("token")
def webhook_delivery_status(token: str, subscription_id: str) -> list[dict]:
    path = f"{WEBHOOKS}/{quote(subscription_id, safe='')}/delivery-status"
    data = _webhook_call("GET", path, token)
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []


@sensitive_variables("token")
def webhook_delivery_logs(token: str, subscription_id: str, event: str) -> list[dict]:
    path = (
        f"{WEBHOOKS}/{quote(subscription_id, safe='')}/delivery-status/logs/{quote(event, safe='')}"
    )
    data = _webhook_call("GET", path, token)
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []

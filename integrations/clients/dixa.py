"""Dixa's REST API (the raw token goes in Authorization, as Dixa's own clients send it).

Queues for the mapping form; custom-attribute definitions, conversations and the PATCH of a
conversation's custom attributes for P-GAP. Failures raise `ApiUnavailable`: no answer, or
`DixaError` with Dixa's status (and Retry-After) for an error answer, so that callers can
tell a refused token (401/403) or an unknown conversation (404) from a busy Dixa (429, 5xx).
"""

from dataclasses import dataclass

import httpx
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from integrations.clients.http import ApiUnavailable, client, get_json

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


@sensitive_variables("token")
def list_queues(token: str) -> list[Queue]:
    body = get_json(f"{settings.DIXA_API_URL}/v1/queues", headers={"Authorization": token})
    return [Queue(id=q["id"], name=q.get("name", "")) for q in body.get("data", []) if "id" in q]


@sensitive_variables("token")
def _call(method: str, path: str, token: str, *, json: dict | None = None):
    """`data` of Dixa's answer; raises ApiUnavailable (no answer) or DixaError."""
    url = f"{settings.DIXA_API_URL}{path}"
    try:
        response = client().request(
            method, url, headers={"Authorization": token}, json=json, timeout=TIMEOUT
        )
    except httpx.HTTPError as exc:
        raise ApiUnavailable(f"no answer from Dixa ({type(exc).__name__})") from exc
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

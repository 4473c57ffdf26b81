"""A fake nps.today API, after its Power Automate connector definition: `GET /campaigns/`
and `POST /campaigns/{id}/respondent` with `Authorization: apikey <key>`. It is idempotent
on the body's `guid`: a repeated guid returns the member it made the first time.

Response webhooks: `POST /webhooks/subscriptions/responses` {campaignId, targetUrl,
eventType: "NewResponse"} answers {id, …} and a Location; `DELETE /webhooks/subscriptions/{id}`;
`GET /webhooks/subscriptions` (the fake's own, to look). `respond(guid, …)` (or
`POST /__fake__/respond {"guid": …, "rating": …}`) posts a customer's response to a member,
as the connector's NewResponse trigger shapes it, to every subscribed URL of its campaign.

The custom card's call: `POST /employees/token` (Basic `ApiKey:<key>`, as Dixa's card sends it)
answers {token, echo: <the body>}; the token is JWT-shaped with a 24-hour `exp`. `GET
/feedback-app` stands in for nps.today's Feedback App: it posts FEEDBACK_WIDGET_READY to its
parent, and shows (and keeps in `window.received`) every SET_PARAMETERS it gets."""

import base64
import binascii
import itertools
import json
import re
import time
from datetime import UTC, datetime

import httpx

from tests.fakes.base import FakeApi, Reply

RESPONDENT_PATH = re.compile(r"^/campaigns/(\d+)/respondents?$")
SUBSCRIPTION_PATH = re.compile(r"^/webhooks/subscriptions/([^/]+)$")


class FakeNpsToday(FakeApi):
    name = "nps.today"
    scripted_paths = ("/campaigns/", "/webhooks/", "/employees/")

    def __init__(self, api_keys=("nps-test-key",), campaigns=None):
        super().__init__()
        self.api_keys = set(api_keys)
        self.campaigns = campaigns or {7232: "Relationsmåling Q1", 7300: "Support CSAT"}
        # A key listed here sees only these campaigns (another nps.today account).
        self.campaigns_by_key: dict[str, dict[int, str]] = {}
        self.reset_state()

    def campaigns_for(self, key: str) -> dict[int, str]:
        return self.campaigns_by_key.get(key, self.campaigns)

    def reset_state(self) -> None:
        self.members: dict[str, dict] = {}  # guid -> member
        self._ids = itertools.count(1)
        self.subscriptions: dict[int, dict] = {}  # id -> {id, campaignId, targetUrl, …}
        self._subscription_ids = itertools.count(501)
        self._response_ids = itertools.count(90_001)
        self._token_ids = itertools.count(1)

    def state(self) -> dict:
        return {
            "members": list(self.members.values()),
            "subscriptions": [
                {k: v for k, v in s.items() if k != "key"} for s in self.subscriptions.values()
            ],
        }

    def route(self, method, path, headers, body) -> Reply:
        if method == "GET" and path == "/feedback-app":
            return Reply(200, FeedbackAppPage(FEEDBACK_APP_HTML))
        key = _api_key(headers.get("authorization", ""))
        if key not in self.api_keys:
            return Reply(401, {"message": "invalid api key"})
        if method == "POST" and path == "/employees/token":
            return self._employee_token(body)
        if method == "GET" and path in ("/campaigns", "/campaigns/"):
            campaigns = self.campaigns_for(key)
            return Reply(200, [{"id": cid, "name": name} for cid, name in campaigns.items()])
        match = RESPONDENT_PATH.match(path)
        if method == "POST" and match:
            return self._add_member(int(match.group(1)), body, self.campaigns_for(key))
        if method == "POST" and path == "/webhooks/subscriptions/responses":
            return self._subscribe(key, body)
        if method == "GET" and path in ("/webhooks/subscriptions", "/webhooks/subscriptions/"):
            with self.lock:
                mine = [s for s in self.subscriptions.values() if s["key"] == key]
            return Reply(200, [{k: v for k, v in s.items() if k != "key"} for s in mine])
        match = SUBSCRIPTION_PATH.match(path)
        if method == "DELETE" and match:
            return self._unsubscribe(key, match.group(1))
        return Reply(404, {"message": "not found"})

    def _employee_token(self, body: bytes) -> Reply:
        try:
            request = json.loads(body)
        except ValueError:
            return Reply(400, {"message": "body is not JSON"})
        if not isinstance(request, dict):
            return Reply(400, {"message": "body must be an object"})
        claims = {
            "sub": request.get("employeeEmail") or "",
            "jti": next(self._token_ids),
            "exp": int(time.time()) + 24 * 3600,
        }
        token = ".".join(_b64url(part) for part in ({"alg": "none"}, claims, {}))
        return Reply(200, {"token": token, "echo": request})

    @staticmethod
    def _write(handler, reply: Reply) -> None:
        if not isinstance(reply.body, FeedbackAppPage):
            return FakeApi._write(handler, reply)
        data = reply.body.html.encode()
        handler.send_response(reply.status)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
        return None

    # --- response webhooks -----------------------------------------------------------
    def _subscribe(self, key: str, body: bytes) -> Reply:
        try:
            request = json.loads(body)
        except ValueError:
            return Reply(400, {"message": "body is not JSON"})
        if not isinstance(request, dict) or request.get("eventType") != "NewResponse":
            return Reply(400, {"message": "eventType must be NewResponse"})
        target = request.get("targetUrl")
        if not isinstance(target, str) or not target.startswith(("http://", "https://")):
            return Reply(400, {"message": "targetUrl must be an http(s) URL"})
        campaign_id = request.get("campaignId")
        if campaign_id not in self.campaigns_for(key):
            return Reply(404, {"message": f"campaign {campaign_id} not found"})
        with self.lock:
            subscription = {
                "id": next(self._subscription_ids),
                "campaignId": campaign_id,
                "targetUrl": target,
                "eventType": "NewResponse",
                "key": key,
            }
            self.subscriptions[subscription["id"]] = subscription
        public = {k: v for k, v in subscription.items() if k != "key"}
        location = f"/webhooks/subscriptions/{subscription['id']}"
        return Reply(200, public, headers={"Location": location})

    def _unsubscribe(self, key: str, subscription_id: str) -> Reply:
        with self.lock:
            number = int(subscription_id) if subscription_id.isdigit() else None
            subscription = self.subscriptions.get(number)
            if subscription is None or subscription["key"] != key:
                return Reply(404, {"message": "subscription not found"})
            del self.subscriptions[subscription["id"]]
        return Reply(200, {"deleted": subscription["id"]})

    def response_payload(
        self,
        guid: str,
        *,
        rating: int = 9,
        comment: str = "",
        agent_rating: int | None = None,
        rating_time: str | None = None,
        response_id: int | None = None,
    ) -> dict:
        """The member's response as the connector's NewResponse trigger carries it (which
        names no guid), with the member's Custom and, when given, the AgentRating."""
        with self.lock:
            member = self.members[guid]
            response_id = response_id or next(self._response_ids)
        respondent = member.get("respondent", {})
        when = rating_time or datetime.now(UTC).isoformat(timespec="milliseconds")
        payload = {
            "Id": response_id,
            "Rating": rating,
            "RatingTime": when,
            "UserComment": comment,
            "CommentTime": when if comment else None,
            "CampaignId": member["campaignId"],
            "CampaignName": self.campaigns.get(member["campaignId"], ""),
            "Device": "Desktop",
            "Respondent": {
                "Id": member["id"],
                "ExternalId": respondent.get("externalId"),
                "EmailAddress": respondent.get("emailAddress"),
                "PhoneNumber": respondent.get("phoneNumber"),
                "FirstName": respondent.get("firstName"),
            },
            "Custom": member.get("custom"),
        }
        if agent_rating is not None:
            payload["AgentRating"] = agent_rating
        return payload

    def deliver_response(self, payload: dict) -> list[dict]:
        """POST `payload` to every URL subscribed to its campaign; their answers."""
        with self.lock:
            targets = [
                s["targetUrl"]
                for s in self.subscriptions.values()
                if s["campaignId"] == payload.get("CampaignId")
            ]
        deliveries = []
        for url in targets:
            try:
                status = httpx.post(url, json=payload, timeout=10).status_code
            except httpx.HTTPError as exc:
                status = f"error: {type(exc).__name__}"
            deliveries.append({"url": url, "status": status})
        return deliveries

    def respond(self, guid: str, **answer) -> list[dict]:
        """The customer answers member `guid`: its response goes to every subscriber of the
        campaign (see response_payload for `answer`); their answers."""
        return self.deliver_response(self.response_payload(guid, **answer))

    def _control(self, method: str, path: str, body: bytes) -> Reply:
        if path == "/__fake__/respond" and method == "POST":
            request = json.loads(body) if body else {}
            guid = str(request.pop("guid", ""))
            if guid not in self.members:
                return Reply(404, {"message": f"no member with guid {guid!r}"})
            names = ("rating", "comment", "agent_rating", "rating_time", "response_id")
            payload = self.response_payload(guid, **{k: request[k] for k in names if k in request})
            return Reply(200, {"response": payload, "deliveries": self.deliver_response(payload)})
        return super()._control(method, path, body)

    def _add_member(self, campaign_id: int, body: bytes, campaigns: dict) -> Reply:
        if campaign_id not in campaigns:
            return Reply(404, {"message": f"campaign {campaign_id} not found"})
        try:
            member = json.loads(body)
        except ValueError:
            return Reply(400, {"message": "body is not JSON"})
        problem = _validate(member)
        if problem:
            return Reply(400, {"message": problem})
        with self.lock:
            guid = member.get("guid")
            if guid and guid in self.members:
                return Reply(200, self.members[guid])
            stored = {"id": next(self._ids), "campaignId": campaign_id, **member}
            self.members[guid or f"no-guid-{stored['id']}"] = stored
        return Reply(200, stored)


def _api_key(authorization: str) -> str:
    """The key of `apikey <key>` or of Basic `ApiKey:<key>` (the card's form); "" if none."""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() == "apikey":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return password if user == "ApiKey" else ""
    return ""


def _b64url(part: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


class FeedbackAppPage:
    """An HTML answer (every other answer of the fake is JSON)."""

    def __init__(self, html: str):
        self.html = html


FEEDBACK_APP_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>fake Feedback App</title></head>
<body style="font: 13px sans-serif; margin: 8px">
<strong>Fake Feedback App</strong>
<p id="state">waiting for SET_PARAMETERS</p>
<pre id="received" style="white-space: pre-wrap; word-break: break-all"></pre>
<script>
  window.received = [];
  window.addEventListener("message", (event) => {
    if (!event.data || event.data.action !== "SET_PARAMETERS") return;
    window.received.push(event.data.parameters);
    document.getElementById("state").textContent = "SET_PARAMETERS received";
    document.getElementById("received").textContent =
      JSON.stringify(event.data.parameters, null, 1);
  });
  window.parent.postMessage({ action: "FEEDBACK_WIDGET_READY" }, "*");
</script>
</body></html>
"""


def _validate(member) -> str | None:
    if not isinstance(member, dict):
        return "body must be an object"
    respondent = member.get("respondent")
    if not isinstance(respondent, dict):
        return "respondent is required"
    for key in ("firstName", "lastName", "emailAddress", "phoneNumber", "externalId"):
        if key in respondent and not isinstance(respondent[key], str):
            return f"respondent.{key} must be a string"
    if not (respondent.get("emailAddress") or respondent.get("phoneNumber")):
        return "respondent needs an emailAddress or a phoneNumber"
    custom = member.get("custom")
    if custom is not None:
        if not isinstance(custom, str):
            return "custom must be a string holding JSON"
        try:
            json.loads(custom)
        except ValueError:
            return "custom must hold valid JSON"
    return None

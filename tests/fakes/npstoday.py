"""A fake nps.today API, after its Power Automate connector definition: `GET /campaigns/`
and `POST /campaigns/{id}/respondent` with `Authorization: apikey <key>`. It is idempotent
on the body's `guid`: a repeated guid returns the member it made the first time."""

import itertools
import json
import re

from tests.fakes.base import FakeApi, Reply

RESPONDENT_PATH = re.compile(r"^/campaigns/(\d+)/respondents?$")


class FakeNpsToday(FakeApi):
    name = "nps.today"
    scripted_paths = ("/campaigns/",)

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

    def state(self) -> dict:
        return {"members": list(self.members.values())}

    def route(self, method, path, headers, body) -> Reply:
        auth = headers.get("authorization", "")
        if not auth.lower().startswith("apikey ") or auth[7:].strip() not in self.api_keys:
            return Reply(401, {"message": "invalid api key"})
        key = auth[7:].strip()
        if method == "GET" and path in ("/campaigns", "/campaigns/"):
            campaigns = self.campaigns_for(key)
            return Reply(200, [{"id": cid, "name": name} for cid, name in campaigns.items()])
        match = RESPONDENT_PATH.match(path)
        if method == "POST" and match:
            return self._add_member(int(match.group(1)), body, self.campaigns_for(key))
        return Reply(404, {"message": "not found"})

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

"""A fake Dixa REST API, after Dixa's OpenAPI document: the raw token in `Authorization`,
`{"data": …}` bodies, errors as `{"message": …}`.

- `GET /v1/queues`, `GET /v1/queues/{id}`;
- `GET /v1/custom-attributes`: the definitions, by default a correct P-GAP attribute
  (`pgap_definition()`: conversation, Select, options 0..10 labelled alike, required for
  agents) beside a Text attribute for the write-back and a contact attribute; each point
  of the P-GAP check can be broken through `pgap_definition`'s arguments;
- `GET /v1/conversations/{csid}`: the conversations added with `add_conversation` (404
  for others unless `auto_conversations`), `customAttributes` included;
- `PATCH /v1/conversations/{csid}/custom-attributes`: keyed by attribute id (400 for an
  unknown id), recorded in `patched` and applied to the conversation.

429 and 5xx answers are scripted with `push(...)` or `rate_limit` (tests/fakes/base.py);
over HTTP, `POST /__fake__/dixa/conversations {"csid": 1, "p_gap": ["7"]}` adds one
(`"absent": true`: without the attribute);
- `/beta/webhooks`: webhook subscriptions, and a sender that delivers events to them as
  Dixa does (tests/fakes/dixa_webhooks.py); `POST /__fake__/dixa/close {"csid": 1,
  "queue_id": "…"}` closes a conversation, which sends ConversationClosed.
"""

import json
import uuid

from tests.fakes.base import FakeApi, Reply
from tests.fakes.dixa_webhooks import WebhooksApi

QUEUES = [
    {"id": "986359e5-e201-48ab-84af-c7799e03e58c", "name": "Mail - General", "isDefault": True},
    {"id": "50a5427e-cfc3-4396-8f4f-a5bce5037d1b", "name": "Chat - Support", "isDefault": False},
]
PGAP_ATTRIBUTE_ID = "5b1c8a5e-7d3f-4c8e-9a51-0c2f3e6d7a10"
CUSTOMER_SCORE_ATTRIBUTE_ID = "0e7f9f43-2b4c-4f61-8d0a-6a1c2e9b5d71"
AGENT_ID = "81f05b32-e002-4af1-9c8d-59e3d243babd"
ABSENT = object()  # add_conversation(p_gap=ABSENT): the conversation has no such attribute
CREATED = "2023-01-05T06:42:31.532Z[GMT]"


def option_id(value: str) -> str:
    """A stable option id per value, as Dixa gives every option a UUID."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"fake-dixa-option-{value}"))


def pgap_definition(
    *,
    identifier: str = "p_gap",
    entity_type: str = "Conversation",
    input_type: str = "Select",
    values=tuple(str(n) for n in range(11)),
    labels: dict | None = None,
    required: bool = True,
    archived: bool = False,
    attribute_id: str = PGAP_ATTRIBUTE_ID,
) -> dict:
    """Dixa's definition of the P-GAP attribute, correct unless told otherwise: `values`
    are its options, `labels` overrides some option labels ({value: label})."""
    labels = labels or {}
    if input_type == "Select":
        options = [
            {
                "id": option_id(value),
                "label": labels.get(value, value),
                "value": value,
                "nestedOptions": [],
                "isDeactivated": False,
                "orderIndex": index,
            }
            for index, value in enumerate(values)
        ]
        input_definition = {"_type": "Select", "options": options}
    else:
        input_definition = {"_type": input_type, "placeholder": "0-10"}
    return {
        "id": attribute_id,
        "entityType": entity_type,
        "identifier": identifier,
        "label": "P-GAP",
        "inputDefinition": input_definition,
        "description": "How satisfied do you think the customer is?",
        "createdAt": CREATED,
        "isRequired": required,
        "isArchived": archived,
        "isDeactivated": False,
    }


def default_definitions() -> list[dict]:
    return [
        pgap_definition(),
        {
            "id": CUSTOMER_SCORE_ATTRIBUTE_ID,
            "entityType": "Conversation",
            "identifier": "customer_score",
            "label": "Customer score",
            "inputDefinition": {"_type": "Text", "placeholder": ""},
            "createdAt": CREATED,
            "isRequired": False,
            "isArchived": False,
            "isDeactivated": False,
        },
        {
            "id": "66121f54-98ee-4727-a4e7-1a373d411ccf",
            "entityType": "Contact",
            "identifier": "location",
            "label": "Location",
            "inputDefinition": {"_type": "Text", "placeholder": "City"},
            "createdAt": CREATED,
            "isRequired": False,
            "isArchived": False,
            "isDeactivated": False,
        },
    ]


class FakeDixa(WebhooksApi, FakeApi):
    name = "Dixa"
    scripted_paths = ("/v1/", "/beta/")

    def __init__(
        self,
        tokens=("dixa-test-token",),
        queues=None,
        auto_conversations=False,
        *,
        retry_spacing: float | None = None,
        max_retries: int | None = None,
        disable_after: int | None = None,
    ):
        super().__init__()
        self.webhooks_init(
            retry_spacing=retry_spacing, max_retries=max_retries, disable_after=disable_after
        )
        self.tokens = set(tokens)
        self.queues = queues or [dict(q) for q in QUEUES]
        self.auto_conversations = auto_conversations
        self.definitions: list[dict] = default_definitions()
        self.conversations: dict[int, dict] = {}
        self.patched: list[tuple[int, dict]] = []

    # --- state -------------------------------------------------------------------------
    def add_conversation(
        self,
        csid: int,
        *,
        p_gap=("7",),
        agent_id: str | None = AGENT_ID,
        queue_id: str = QUEUES[0]["id"],
        identifier: str = "p_gap",
        attribute_id: str = PGAP_ATTRIBUTE_ID,
    ) -> dict:
        """A closed email conversation. `p_gap` is the value exactly as Dixa returns it
        (a Select: a list of option values), or ABSENT."""
        attributes = []
        if p_gap is not ABSENT:
            value = list(p_gap) if isinstance(p_gap, tuple) else p_gap
            attributes.append(
                {"id": attribute_id, "name": "P-GAP", "identifier": identifier, "value": value}
            )
        conversation = {
            "id": csid,
            "requesterId": "cab6b2af-5659-4082-98c2-3e056c8d4e3d",
            "channel": "Email",
            "createdAt": "2025-03-21T05:13:38Z",
            "direction": "Inbound",
            "state": "Closed",
            "stateUpdatedAt": "2025-03-21T05:20:00Z",
            "assignment": {"agentId": agent_id, "assignedAt": "2025-03-21T05:14:00Z"}
            if agent_id
            else None,
            "queue": {"id": queue_id, "queuedAt": "2025-03-21T05:13:40Z"},
            "language": "en",
            "customAttributes": attributes,
            "_type": "EmailConversation",
        }
        with self.lock:
            self.conversations[int(csid)] = conversation
        return conversation

    def start(self, host: str = "127.0.0.1", port: int = 0) -> "FakeDixa":
        super().start(host, port)
        self.webhooks_start()
        return self

    def stop(self) -> None:
        self.webhooks_stop()
        super().stop()

    def reset_state(self) -> None:
        self.webhooks_reset()
        self.definitions = default_definitions()
        self.conversations.clear()
        self.patched.clear()

    def state(self) -> dict:
        return {
            "conversations": sorted(self.conversations),
            "patched": [{"csid": csid, "values": values} for csid, values in self.patched],
            **self.webhooks_state(),
        }

    # --- the API -----------------------------------------------------------------------
    def route(self, method, path, headers, body) -> Reply:
        if headers.get("authorization", "").strip() not in self.tokens:
            return Reply(401, {"message": "Unauthorized"})
        parts = path.strip("/").split("/")
        if parts[:2] == ["beta", "webhooks"]:
            return self.webhooks_route(method, parts[2:], body)
        if method == "GET" and path == "/v1/queues":
            return Reply(200, {"data": self.queues})
        for queue in self.queues:
            if method == "GET" and path == f"/v1/queues/{queue['id']}":
                return Reply(200, {"data": queue})
        if method == "GET" and path == "/v1/custom-attributes":
            return Reply(200, {"data": self.definitions})
        if method == "GET" and parts[:2] == ["v1", "custom-attributes"] and len(parts) == 3:
            found = next((d for d in self.definitions if d["id"] == parts[2]), None)
            return Reply(200, {"data": found}) if found else _not_found()
        if parts[:2] == ["v1", "conversations"] and len(parts) >= 3:
            if not parts[2].isdigit():
                return Reply(400, {"message": "Invalid value for: path parameter conversationId"})
            csid = int(parts[2])
            if method == "GET" and len(parts) == 3:
                conversation = self._conversation(csid)
                return Reply(200, {"data": conversation}) if conversation else _not_found()
            if method == "PATCH" and parts[3:] == ["custom-attributes"]:
                return self._patch(csid, body)
        return _not_found()

    def _conversation(self, csid: int) -> dict | None:
        with self.lock:
            conversation = self.conversations.get(csid)
        if conversation is None and self.auto_conversations:
            conversation = self.add_conversation(csid, p_gap=[str(csid % 11)])
        return conversation

    def _patch(self, csid: int, body: bytes) -> Reply:
        try:
            values = json.loads(body)
        except ValueError:
            return Reply(400, {"message": "Decoding failure in request"})
        conversation = self._conversation(csid)
        if conversation is None:
            return _not_found()
        known = {d["id"]: d for d in self.definitions}
        if not isinstance(values, dict) or any(key not in known for key in values):
            return Reply(400, {"message": "Invalid input for patching"})
        with self.lock:
            self.patched.append((csid, values))
            attributes = {a["id"]: a for a in conversation["customAttributes"]}
            for key, value in values.items():
                attributes[key] = {
                    "id": key,
                    "name": known[key]["label"],
                    "identifier": known[key]["identifier"],
                    "value": value,
                }
            conversation["customAttributes"] = list(attributes.values())
        return Reply(200, {"data": [attributes[key] for key in values]})

    def _control(self, method: str, path: str, body: bytes) -> Reply:
        if path == "/__fake__/dixa/conversations" and method == "POST":
            payload = json.loads(body) if body else {}
            p_gap = ABSENT if payload.get("absent") else payload.get("p_gap", ["7"])
            self.add_conversation(int(payload["csid"]), p_gap=p_gap)
            return Reply(200, {"added": int(payload["csid"])})
        if path == "/__fake__/dixa/close" and method == "POST":
            payload = json.loads(body) if body else {}
            event_id = self.close_conversation(
                int(payload["csid"]),
                queue_id=str(payload.get("queue_id", QUEUES[0]["id"])),
                assignee=bool(payload.get("assignee", True)),
                email=payload.get("email"),
            )
            return Reply(200, {"event_id": event_id})
        return super()._control(method, path, body)


def _not_found() -> Reply:
    return Reply(404, {"message": "The requested resource could not be found"})

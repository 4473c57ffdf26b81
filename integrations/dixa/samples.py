"""Realistic Dixa webhook bodies for every catalogue type, in either key casing.

Shapes follow Dixa's documented envelope and the captures in shared/reference/dixa.md.
Used by `simulate_dixa`, the tests and the benchmarks.
"""

import json
import random
import uuid
from datetime import UTC, datetime

from integrations.dixa.catalogue import EVENT_TYPES, to_fqn

FIRST_NAMES = ("Jane", "Mads", "Sofie", "Lars", "Emma", "Noah", "Ida", "Oscar")
CHANNELS = ("EMAIL", "WIDGET_CHAT", "PSTN_PHONE", "SMS", "WHATSAPP", "CONTACT_FORM")
QUEUES = (
    ("986359e5-e201-48ab-84af-c7799e03e58c", "Mail - General"),
    ("50a5427e-cfc3-4396-8f4f-a5bce5037d1b", "Chat - Support"),
)
ORGANIZATION = {"id": "2757a2cf-614e-47ac-8b28-56828bae39bf", "name": "Dixa Demo"}


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def user(*, agent: bool, rng: random.Random) -> dict:
    name = rng.choice(FIRST_NAMES)
    domain = "corp.example" if agent else "example.com"
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "name": name,
        "email": f"{name.lower()}.{rng.randint(1, 9999)}@{domain}",
        "phone": None if agent else f"+45{rng.randint(20000000, 99999999)}",
        "roles": ["Agent"] if agent else [],
        "user_type": "Member" if agent else "Contact",
    }


def conversation(
    *, rng: random.Random, status: str = "CLOSED", queue=True, assignee=True, **overrides
) -> dict:
    queue_id, queue_name = rng.choice(QUEUES)
    body = {
        "csid": rng.randint(1000, 9_999_999),
        "channel": rng.choice(CHANNELS),
        "status": status,
        "direction": "INBOUND",
        "queue": {"id": queue_id, "name": queue_name} if queue else None,
        "contact_point": "support@email.dixa.io",
        "requester": user(agent=False, rng=rng),
        "assignee": user(agent=True, rng=rng) if assignee else None,
        "subject": "Where is my order?",
        "tags": [{"id": str(uuid.uuid4()), "name": "Refund", "is_deactivated": False}],
        "created_at": _iso(datetime.now(UTC)),
    }
    body.update(overrides)
    return body


def _data_for(event_type: str, conv: dict, rng: random.Random) -> dict:
    """The type-specific fields Dixa adds beside `conversation`."""
    agent = conv["assignee"] or user(agent=True, rng=rng)
    now = _iso(datetime.now(UTC))
    extra: dict = {}
    if event_type == "ConversationAbandoned":
        extra = {"queue": conv["queue"]}
    elif event_type == "ConversationPendingExpired":
        extra = {"pending_by_user": agent}
    elif event_type == "ConversationNoteAdded":
        extra = {
            "note_id": str(uuid.uuid4()),
            "text": "Called back",
            "created_at": now,
            "author": agent,
        }
    elif event_type == "ConversationMessageAdded":
        extra = {
            "author": conv["requester"],
            "message_id": str(uuid.uuid4()),
            "text": "Thanks!",
            "content": {"text": "Thanks!", "content_type": "text/plain"},
            "channel": conv["channel"],
            "direction": "inbound",
            "created_at": now,
        }
    elif event_type in ("ConversationTagAdded", "ConversationTagRemoved"):
        extra = {"author": agent, "tag": "Refund"}
    elif event_type == "ConversationRated":
        extra = {
            "agent": agent,
            "score": rng.randint(1, 5),
            "type": "Csat",
            "comment": "Quick help",
        }
    elif event_type == "ConversationCustomAttributeUpdated":
        extra = {
            "custom_attributes": [
                {"id": str(uuid.uuid4()), "identifier": "p_gap", "value": [str(rng.randint(0, 10))]}
            ],
            "author": agent,
        }
    elif event_type in (
        "ConversationAssigned",
        "ConversationUnassigned",
        "ConversationTransferred",
    ):
        extra = {"agent": agent}
    elif event_type.startswith("SLAEvaluation"):
        extra = {"sla_policy_id": str(uuid.uuid4()), "target": "FirstResponse"}
    elif event_type.startswith("ConversationMessageDelivery"):
        extra = {"message_id": str(uuid.uuid4())}
    elif event_type.startswith("Agent"):
        extra = {"agent": agent, "ip": "203.0.113.7"}
    elif event_type == "ConversationTranscriptionAdded":
        extra = {"transcription": "Hello, how can I help?"}
    return {"conversation": conv, **extra}


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(word.title() for word in rest)


def _to_camel(value):
    if isinstance(value, dict):
        return {_camel(k): _to_camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_camel(v) for v in value]
    return value


def event(
    event_type: str = "ConversationClosed",
    *,
    casing: str = "snake",
    rng: random.Random | None = None,
    event_id: str | None = None,
    conversation_overrides: dict | None = None,
    queue: bool = True,
    assignee: bool = True,
) -> dict:
    rng = rng or random.Random()  # noqa: S311 - sample data, not security
    status = {"ConversationOpen": "OPEN", "ConversationPending": "PENDING"}.get(
        event_type, "CLOSED"
    )
    if event_type in ("ConversationCreated", "ConversationEnqueued", "ConversationAssigned"):
        status = "OPEN"
    has_assignee = assignee and event_type != "ConversationAbandoned"
    conv = conversation(rng=rng, status=status, queue=queue, assignee=has_assignee)
    conv.update(conversation_overrides or {})
    body = {
        # Dixa's event ids look like UUIDs but are opaque strings; keep it so in samples.
        "event_id": event_id or str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "event_fqn": to_fqn(event_type),
        "event_version": "1",
        "event_timestamp": _iso(datetime.now(UTC)),
        "organization": dict(ORGANIZATION),
        "data": _data_for(event_type, conv, rng),
    }
    return _to_camel(body) if casing == "camel" else body


def encode(body: dict) -> bytes:
    """Compact JSON, as Dixa sends it. Sign these exact bytes."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


__all__ = ["EVENT_TYPES", "event", "encode", "conversation", "user"]

"""Stored ConversationClosed events shaped like Dixa's, for the relay's tests."""

import random

from integrations.dixa import envelope, samples
from integrations.models import InboundEvent
from tests.ivr.factories import QUEUE_ID

REALISTIC_CONVERSATION = {
    "csid": 294566,
    "channel": "EMAIL",
    "status": "CLOSED",
    "direction": "INBOUND",
    "queue": {"id": QUEUE_ID, "name": "Mail - General"},
    "contact_point": "support@email.dixa.io",
    "requester": {
        "id": "cab6b2af-5659-4082-98c2-3e056c8d4e3d",
        "name": "Jane Jensen",
        "email": "jane@example.com",
        "phone": "+4520304050",
        "roles": [],
        "user_type": "Contact",
    },
    "assignee": {
        "id": "81f05b32-e002-4af1-9c8d-59e3d243babd",
        "name": "Karla",
        "email": "karla@corp.example",
        "phone": None,
        "roles": ["Agent"],
        "user_type": "Member",
    },
    "subject": "Where is my order?",
    "tags": [{"id": "t-1", "name": "Refund", "is_deactivated": False}],
    "created_at": "2025-03-21T05:13:38.492Z",
}


def closed_body(casing="snake", event_type="ConversationClosed", **conversation) -> dict:
    body = samples.event(event_type, rng=random.Random(), casing="snake")  # noqa: S311
    body["data"]["conversation"] = {**REALISTIC_CONVERSATION, **conversation}
    if casing == "camel":
        body = samples._to_camel(body)
    return body


def stored_event(account, body: dict | None = None, **conversation) -> InboundEvent:
    body = body or closed_body(**conversation)
    raw = samples.encode(body)
    parsed = envelope.parse(raw)
    return InboundEvent.objects.create(
        account=account,
        event_id=parsed.event_id,
        event_type=parsed.event_type,
        event_fqn=parsed.event_fqn,
        is_known_type=parsed.is_known_type,
        event_timestamp=parsed.event_timestamp,
        csid=parsed.csid,
        queue_id=parsed.queue_id,
        channel=parsed.channel,
        organization_id=parsed.organization_id,
        raw_body=raw,
        verification=InboundEvent.Verification.VERIFIED,
    )

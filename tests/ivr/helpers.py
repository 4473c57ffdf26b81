"""Stored ConversationClosed events shaped like Dixa's, for the relay's tests."""

import json
import random

from integrations.dixa import envelope, samples
from integrations.dixa.conversation import Conversation
from integrations.models import HandlerRun, InboundEvent
from integrations.services.ingest import inbound_event_record
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


def conversation(**fields) -> Conversation:
    """REALISTIC_CONVERSATION (with `fields` laid over it) as handlers see it."""
    return Conversation.from_envelope(envelope.parse(samples.encode(closed_body(**fields))))


def stored_event(account, body: dict | None = None, **conversation) -> InboundEvent:
    """Stored the way ingest stores it (without the HTTP request)."""
    raw = samples.encode(body or closed_body(**conversation))
    pk = inbound_event_record(
        account=account,
        envelope=envelope.parse(raw),
        raw_body=raw,
        headers={},
        verification=InboundEvent.Verification.VERIFIED,
    )
    return InboundEvent.objects.select_related("body").get(pk=pk)


def expected_member(guid) -> dict:
    """The campaign member seed 001's mapping makes of REALISTIC_CONVERSATION."""
    return {
        "respondent": {
            "firstName": "Jane Jensen",
            "phoneNumber": "+4520304050",
            "emailAddress": "jane@example.com",
            "externalId": "cab6b2af-5659-4082-98c2-3e056c8d4e3d",
        },
        "employee": {"firstName": "Karla", "email": "karla@corp.example"},
        "externalId": "294566",
        "guid": str(guid),
        "custom": json.dumps({"dixaConversationId": 294566}),
    }


def survey_reason(event: InboundEvent) -> str:
    """The survey handler's own reason (the event's sums up every subscriber's, P-GAP's too)."""
    return HandlerRun.objects.get(event=event, handler="survey").reason

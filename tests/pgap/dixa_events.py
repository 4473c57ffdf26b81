"""Stored Dixa events for the P-GAP capture's tests: closes and custom-attribute updates of
REALISTIC_CONVERSATION (tests/ivr/helpers.py), processed through the event bus."""

from datetime import UTC, datetime

from integrations.models import HandlerRun, InboundEvent
from integrations.services.processing import inbound_event_process
from tests.ivr.factories import IvrMappingFactory
from tests.ivr.helpers import closed_body, stored_event
from tests.pgap.factories import PgapSetupFactory

CSID = 294566


def _stamp(body: dict, at: datetime | None) -> dict:
    if at is not None:
        body["event_timestamp"] = at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return body


def close(account, *, at: datetime | None = None, **conversation) -> InboundEvent:
    return stored_event(account, body=_stamp(closed_body(**conversation), at))


def attribute_update(
    account, value, *, identifier="p_gap", at: datetime | None = None, **conversation
) -> InboundEvent:
    """A ConversationCustomAttributeUpdated event carrying `value` for `identifier`."""
    body = closed_body(event_type="ConversationCustomAttributeUpdated", **conversation)
    body["data"]["custom_attributes"] = [
        {"id": "5b1c8a5e-7d3f-4c8e-9a51-0c2f3e6d7a10", "identifier": identifier, "value": value}
    ]
    return stored_event(account, body=_stamp(body, at))


def process(event: InboundEvent) -> InboundEvent:
    inbound_event_process(event_pk=event.pk)
    event.refresh_from_db()
    return event


def pgap_reason(event: InboundEvent) -> str:
    run = HandlerRun.objects.get(event=event, handler="pgap")
    return f"{run.outcome}: {run.reason}"


def pgap_mapping(**setup):
    """A mapping of QUEUE_ID with P-GAP set up for its account (every mapping)."""
    mapping = IvrMappingFactory()
    PgapSetupFactory(account=mapping.account, **setup)
    return mapping

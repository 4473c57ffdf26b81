import json

import pytest

from integrations.dixa import catalogue, envelope, samples


def parse(body: dict):
    return envelope.parse(samples.encode(body))


def test_catalogue_has_the_32_subscription_names_plus_transcription():
    assert len(catalogue.EVENT_TYPES) == 33
    assert len(set(catalogue.EVENT_TYPES)) == 33
    assert "ConversationTranscriptionAdded" in catalogue.EVENT_TYPES


@pytest.mark.parametrize(
    "name, fqn",
    [
        ("ConversationClosed", "CONVERSATION_CLOSED"),
        ("ConversationCustomAttributeUpdated", "CONVERSATION_CUSTOM_ATTRIBUTE_UPDATED"),
        ("SLAEvaluationBreached", "SLA_EVALUATION_BREACHED"),
        ("AgentUnbannedIp", "AGENT_UNBANNED_IP"),
        ("ConversationEndUserReplaced", "CONVERSATION_END_USER_REPLACED"),
    ],
)
def test_fqn_spelling(name, fqn):
    assert catalogue.to_fqn(name) == fqn
    assert catalogue.resolve(fqn) == name
    assert catalogue.resolve(name) == name


@pytest.mark.parametrize("event_type", catalogue.EVENT_TYPES)
@pytest.mark.parametrize("casing", ["snake", "camel"])
def test_every_catalogue_type_parses_in_both_casings(event_type, casing):
    body = samples.event(event_type, casing=casing)
    parsed = parse(body)
    assert parsed.event_type == event_type
    assert parsed.is_known_type
    assert parsed.event_id == (body.get("event_id") or body.get("eventId"))
    assert parsed.csid == body["data"]["conversation"]["csid"]
    assert parsed.event_timestamp is not None
    assert parsed.organization_id == samples.ORGANIZATION["id"]


def test_camel_case_example_from_the_npstoday_guide():
    body = {
        "eventId": "string",
        "eventFqn": "CONVERSATION_CLOSED",
        "eventVersion": "string",
        "eventTimestamp": "2026-02-13T00:00:00Z",
        "organization": {"id": "org-1", "name": "string"},
        "data": {
            "conversation": {
                "csid": 123,
                "channel": "EMAIL",
                "queue": {"id": "q-1", "name": "string"},
                "contactPoint": "string",
                "createdAt": "2026-02-13T00:00:00Z",
            }
        },
    }
    parsed = parse(body)
    assert (parsed.event_id, parsed.event_type, parsed.csid, parsed.queue_id) == (
        "string",
        "ConversationClosed",
        123,
        "q-1",
    )
    assert parsed.event_timestamp.isoformat() == "2026-02-13T00:00:00+00:00"


def test_null_queue_and_assignee_and_names():
    body = samples.event("ConversationClosed", queue=False, assignee=False)
    body["data"]["conversation"]["requester"]["name"] = None
    body["data"]["conversation"]["requester"]["phone"] = None
    parsed = parse(body)
    assert parsed.queue_id == ""
    assert parsed.csid is not None


def test_abandoned_reads_the_queue_beside_the_conversation():
    body = samples.event("ConversationAbandoned")
    body["data"]["conversation"]["queue"] = None
    body["data"]["queue"] = {"id": "q-abandoned", "name": "Q"}
    assert parse(body).queue_id == "q-abandoned"


def test_unknown_type_is_parsed_and_marked_unknown():
    body = samples.event("ConversationClosed")
    body["event_fqn"] = "CONVERSATION_TELEPORTED"
    parsed = parse(body)
    assert not parsed.is_known_type
    assert parsed.event_type == "CONVERSATION_TELEPORTED"


def test_event_id_is_opaque():
    body = samples.event("ConversationClosed", event_id="not-a-uuid:42")
    assert parse(body).event_id == "not-a-uuid:42"


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'"text"', "must be a JSON object"),
        (json.dumps({"event_fqn": "CONVERSATION_CLOSED"}).encode(), "event_id"),
        (json.dumps({"event_id": "", "event_fqn": "X"}).encode(), "event_id"),
        (json.dumps({"event_id": {"a": 1}, "event_fqn": "X"}).encode(), "event_id"),
        (json.dumps({"event_id": "e", "data": {}}).encode(), "event_fqn"),
        (json.dumps({"event_id": "e" * 256, "event_fqn": "X"}).encode(), "longer than"),
        (json.dumps({"event_id": "e\x00", "event_fqn": "X"}).encode(), "event_id contains a NUL"),
        (json.dumps({"event_id": "e", "event_fqn": "X\x00"}).encode(), "event_fqn contains a NUL"),
    ],
)
def test_malformed_bodies_are_refused_with_a_reason(raw, reason):
    with pytest.raises(envelope.EnvelopeError, match=reason):
        envelope.parse(raw)


def test_odd_but_valid_shapes_do_not_crash():
    parsed = envelope.parse(b'{"event_id": 7, "event_fqn": "CONVERSATION_CLOSED", "data": []}')
    assert parsed.event_id == "7"
    assert parsed.csid is None

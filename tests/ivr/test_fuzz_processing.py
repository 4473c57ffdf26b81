"""No accepted event can get stuck: whatever a close carries, processing ends it as
processed or failed, with a reason, and leaves nothing half done."""

import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.dixa import envelope, samples
from integrations.models import InboundEvent
from integrations.services.ingest import inbound_event_record
from integrations.services.processing import inbound_event_process
from ivr.models import SurveyTrigger
from tests.integrations.test_fuzz_ingest import JSON, TEXT, set_path
from tests.ivr.factories import QUEUE_ID, IvrMappingFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]
QUEUE = {"queue": {"id": QUEUE_ID, "name": "Mail"}}

# Where a mutation lands in a close the survey relay reads.
CONVERSATION_PATHS = st.sampled_from(
    [
        ("data", "conversation", field)
        for field in ("csid", "channel", "tags", "requester", "assignee", "custom_attributes")
    ]
    + [
        ("data", "conversation", person, field)
        for person in ("requester", "assignee")
        for field in ("id", "name", "email", "phone")
    ]
)


@settings(
    database=None,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rng=st.randoms(use_true_random=False),
    mutations=st.lists(st.tuples(CONVERSATION_PATHS, JSON | TEXT), min_size=1, max_size=4),
)
def test_any_close_ends_processed_or_failed_with_a_reason(rng, mutations, mapping):
    # given a close in a mapped queue, with arbitrary values where the relay reads
    document = samples.event("ConversationClosed", rng=rng, event_id=str(uuid.uuid4()))
    document["data"]["conversation"].update(QUEUE)
    for path, value in mutations:
        set_path(document, path, value)
    raw = envelope_bytes(document)
    parsed = envelope.parse(raw)  # what ingest accepted
    pk = inbound_event_record(
        account=mapping.account,
        envelope=parsed,
        raw_body=raw,
        headers={},
        verification=InboundEvent.Verification.VERIFIED,
    )
    # when it is processed
    inbound_event_process(event_pk=pk)
    # then it ended, with a reason, and any survey it made was stored whole
    event = InboundEvent.objects.get(pk=pk)
    assert event.status in (InboundEvent.Status.PROCESSED, InboundEvent.Status.FAILED)
    assert event.outcome and event.outcome_reason
    for trigger in SurveyTrigger.objects.filter(inbound_event_id=pk):
        assert trigger.payload["guid"] == str(trigger.guid)


@pytest.fixture
def mapping():
    return IvrMappingFactory(once_per_conversation=False, quarantine_days=30)


def envelope_bytes(document) -> bytes:
    return json.dumps(document).encode()


def test_an_unmutated_close_makes_a_survey(mapping):
    """The property above is not vacuous: the same path, untouched, surveys."""
    raw = envelope_bytes(samples.event("ConversationClosed", conversation_overrides=QUEUE))
    pk = inbound_event_record(
        account=mapping.account,
        envelope=envelope.parse(raw),
        raw_body=raw,
        headers={},
        verification=InboundEvent.Verification.VERIFIED,
    )
    inbound_event_process(event_pk=pk)
    assert SurveyTrigger.objects.filter(inbound_event_id=pk).count() == 1

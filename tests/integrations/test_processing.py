"""Processing on the event bus: every subscriber runs, each outcome is recorded."""

import re
from unittest import mock

import pytest
from django.urls import reverse

from integrations import events
from integrations.events import HandlerResult
from integrations.models import HandlerRun, InboundEvent, InboundEventBody
from integrations.services.processing import inbound_event_process, inbound_events_reprocess
from tests.integrations.factories import InboundEventFactory

pytestmark = pytest.mark.django_db
Status, Outcome = InboundEvent.Status, InboundEvent.Outcome


@pytest.fixture
def bus():
    """An empty bus for ConversationRated; tests subscribe what they need."""
    with mock.patch.dict(events._subscriptions, {"ConversationRated": []}):
        yield events


def rated(**fields) -> InboundEvent:
    return InboundEventFactory(event_type="ConversationRated", **fields)


def recorder(calls: list, result: HandlerResult):
    def handle(event: events.DixaEvent) -> HandlerResult:
        calls.append(event)
        return result

    return handle


def test_event_is_routed_to_its_handler_and_the_outcome_recorded(bus):
    calls = []
    bus.subscribe("ConversationRated", "csat", recorder(calls, HandlerResult.skipped("no csat")))
    event = rated()
    assert inbound_event_process(event_pk=event.pk) is True
    event.refresh_from_db()
    assert [c.record.pk for c in calls] == [event.pk]
    assert (event.status, event.outcome, event.outcome_reason) == (
        Status.PROCESSED,
        Outcome.SKIPPED,
        "no csat",
    )
    assert event.processing_attempts == 1 and event.processed_at
    run = HandlerRun.objects.get(event=event)
    assert (run.handler, run.outcome, run.reason, run.attempts) == ("csat", "skipped", "no csat", 1)


def test_handlers_share_one_parsed_event_and_conversation(bus):
    calls = []
    bus.subscribe("ConversationRated", "a", recorder(calls, HandlerResult.handled("a")))
    bus.subscribe("ConversationRated", "b", recorder(calls, HandlerResult.handled("b")))
    event = rated()
    inbound_event_process(event_pk=event.pk)
    first, second = calls
    assert first is second  # one DixaEvent handed to both
    assert first.envelope.event_id == event.event_id
    assert first.conversation.csid == first.envelope.csid is not None


def test_one_failing_handler_neither_stops_nor_hides_the_others(bus):
    # given two subscribers, the first of which raises
    calls = []

    def broken(event):
        raise RuntimeError("boom")

    bus.subscribe("ConversationRated", "broken", broken)
    bus.subscribe("ConversationRated", "survey", recorder(calls, HandlerResult.handled("sent")))
    event = rated()
    # when the event is processed
    inbound_event_process(event_pk=event.pk)
    # then the second ran, each outcome is recorded, and the event shows the error
    assert len(calls) == 1
    runs = {r.handler: (r.outcome, r.reason) for r in HandlerRun.objects.filter(event=event)}
    assert runs == {"broken": ("error", "RuntimeError: boom"), "survey": ("handled", "sent")}
    event.refresh_from_db()
    assert (event.status, event.outcome) == (Status.FAILED, Outcome.ERROR)
    assert event.outcome_reason == "broken: RuntimeError: boom; survey: sent"


def test_the_events_admin_page_shows_each_handlers_outcome_and_reason(bus, admin_client):
    # given an event two subscribers processed, one of them failing
    def broken(event):
        raise RuntimeError("boom")

    bus.subscribe("ConversationRated", "broken", broken)
    bus.subscribe("ConversationRated", "survey", lambda event: HandlerResult.handled("sent"))
    event = rated()
    inbound_event_process(event_pk=event.pk)
    # when an admin opens the event
    page = admin_client.get(reverse("admin:integrations_inboundevent_change", args=[event.pk]))
    # then a row per handler names it, its outcome and its reason
    rows = [
        " ".join(re.sub(r"<[^>]+>", " ", row).split())
        for row in re.findall(
            r'<tr class="form-row[^"]*"[^>]*>(.*?)</tr>', page.content.decode(), re.S
        )
    ]
    assert any("broken Error RuntimeError: boom 1 " in row for row in rows), rows
    assert any("survey Handled sent 1 " in row for row in rows), rows


def test_a_failing_handler_rolls_back_only_its_own_writes(bus, account):
    from integrations.models import SigningSecret

    def writes_then_fails(event):
        SigningSecret.objects.create(account_id=event.account_id, secret="ab")
        raise RuntimeError("late")

    bus.subscribe("ConversationRated", "w", writes_then_fails)
    inbound_event_process(event_pk=rated(account=account).pk)
    assert not SigningSecret.objects.filter(account=account).exists()


def test_type_without_handler_is_recorded_as_such():
    event = InboundEventFactory(event_type="TypingStarted")
    inbound_event_process(event_pk=event.pk)
    event.refresh_from_db()
    assert event.outcome == Outcome.NO_HANDLER
    assert "no handler for TypingStarted" in event.outcome_reason


def test_unknown_type_is_recorded_with_a_reason():
    event = InboundEventFactory(event_type="X_NEW", event_fqn="X_NEW", is_known_type=False)
    inbound_event_process(event_pk=event.pk)
    event.refresh_from_db()
    assert event.outcome == Outcome.UNKNOWN_TYPE
    assert "not in Dixa's event catalogue" in event.outcome_reason


def test_processing_twice_runs_the_handler_once(bus):
    calls = []
    bus.subscribe("ConversationRated", "csat", recorder(calls, HandlerResult.skipped("x")))
    event = rated()
    inbound_event_process(event_pk=event.pk)
    assert inbound_event_process(event_pk=event.pk) is False
    assert len(calls) == 1


def test_an_event_that_cannot_be_parsed_ends_as_an_error_once(bus):
    # given a stored body that is not an event (it cannot reach us through ingest)
    calls = []
    bus.subscribe("ConversationRated", "csat", recorder(calls, HandlerResult.handled()))
    event = rated()
    InboundEventBody.objects.filter(pk=event.pk).update(raw_body=b"[not json")
    # when it is processed
    assert inbound_event_process(event_pk=event.pk) is True
    # then it ends as an error with the reason, no handler ran, and it is not claimed again
    event.refresh_from_db()
    assert (event.status, event.outcome) == (Status.FAILED, Outcome.ERROR)
    assert event.outcome_reason.startswith("could not load the event: EnvelopeError")
    assert calls == [] and inbound_event_process(event_pk=event.pk) is False


def test_an_event_whose_body_retention_removed_ends_as_an_error(bus):
    bus.subscribe("ConversationRated", "csat", recorder([], HandlerResult.handled()))
    event = rated()
    InboundEventBody.objects.filter(pk=event.pk).delete()
    inbound_event_process(event_pk=event.pk)
    event.refresh_from_db()
    assert event.outcome == Outcome.ERROR and "removed by retention" in event.outcome_reason


@pytest.fixture
def published():
    with mock.patch("integrations.tasks.process_inbound_events.apply_async") as apply_async:
        yield apply_async


def test_reprocess_runs_every_handler_again(bus, published, django_capture_on_commit_callbacks):
    calls = []
    bus.subscribe("ConversationRated", "a", recorder(calls, HandlerResult.handled("a")))
    bus.subscribe("ConversationRated", "b", recorder(calls, HandlerResult.skipped("b")))
    event = rated()
    inbound_event_process(event_pk=event.pk)
    # when an admin reprocesses it
    with django_capture_on_commit_callbacks(execute=True):
        count = inbound_events_reprocess(queryset=InboundEvent.objects.filter(pk=event.pk))
    # then it is published at once and both handlers run again
    assert count == 1
    published.assert_called_once_with(args=([event.pk],), retry=False)
    inbound_event_process(event_pk=event.pk)
    assert len(calls) == 4
    assert sorted(HandlerRun.objects.values_list("handler", "attempts")) == [("a", 2), ("b", 2)]


def test_reprocess_can_target_one_handler(bus, published, django_capture_on_commit_callbacks):
    a_calls, b_calls = [], []
    bus.subscribe("ConversationRated", "a", recorder(a_calls, HandlerResult.handled("a")))
    bus.subscribe("ConversationRated", "b", recorder(b_calls, HandlerResult.skipped("b")))
    event = rated()
    inbound_event_process(event_pk=event.pk)
    # when only b is reprocessed
    with django_capture_on_commit_callbacks(execute=True):
        inbound_events_reprocess(queryset=InboundEvent.objects.filter(pk=event.pk), handler="b")
    inbound_event_process(event_pk=event.pk)
    # then a kept its outcome without running, b ran again, and the event sums up both
    assert (len(a_calls), len(b_calls)) == (1, 2)
    event.refresh_from_db()
    assert (event.outcome, event.outcome_reason) == (Outcome.HANDLED, "a: a; b: b")


def test_reprocess_leaves_events_whose_body_retention_removed(bus, published):
    bus.subscribe("ConversationRated", "a", recorder([], HandlerResult.handled("a")))
    event = rated()
    inbound_event_process(event_pk=event.pk)
    InboundEventBody.objects.filter(pk=event.pk).delete()
    assert inbound_events_reprocess(queryset=InboundEvent.objects.filter(pk=event.pk)) == 0
    event.refresh_from_db()
    assert (event.status, event.outcome) == (Status.PROCESSED, Outcome.HANDLED)

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from integrations import events
from integrations.events import HandlerResult
from integrations.models import InboundEvent
from integrations.services.processing import (
    inbound_event_process,
    inbound_events_reprocess,
    inbound_events_sweep,
)
from tests.integrations.factories import InboundEventFactory

pytestmark = pytest.mark.django_db
Status, Outcome = InboundEvent.Status, InboundEvent.Outcome


@pytest.fixture
def handler():
    calls = []

    def handle(event):
        calls.append(event.pk)
        return HandlerResult.skipped("no assignee")

    with mock.patch.dict(events._handlers, {"ConversationRated": handle}):
        yield calls


def test_event_is_routed_to_its_handler_and_the_outcome_recorded(handler):
    event = InboundEventFactory(event_type="ConversationRated", event_fqn="CONVERSATION_RATED")
    assert inbound_event_process(event_pk=event.pk) is True
    event.refresh_from_db()
    assert handler == [event.pk]
    assert (event.status, event.outcome, event.outcome_reason) == (
        Status.PROCESSED,
        Outcome.SKIPPED,
        "no assignee",
    )
    assert event.processing_attempts == 1 and event.processed_at


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


def test_processing_twice_runs_the_handler_once(handler):
    event = InboundEventFactory(event_type="ConversationRated")
    inbound_event_process(event_pk=event.pk)
    assert inbound_event_process(event_pk=event.pk) is False
    assert handler == [event.pk]


def test_handler_error_marks_the_event_failed_with_the_reason():
    def broken(event):
        raise RuntimeError("boom")

    event = InboundEventFactory(event_type="ConversationRated")
    with mock.patch.dict(events._handlers, {"ConversationRated": broken}):
        inbound_event_process(event_pk=event.pk)
    event.refresh_from_db()
    assert (event.status, event.outcome) == (Status.FAILED, Outcome.ERROR)
    assert event.outcome_reason == "RuntimeError: boom"


def test_sweeper_requeues_committed_but_unqueued_events_once():
    # given one old unprocessed event and one that just arrived
    old = InboundEventFactory()
    InboundEvent.objects.filter(pk=old.pk).update(
        received_at=timezone.now() - timedelta(seconds=30)
    )
    fresh = InboundEventFactory()
    with mock.patch("integrations.tasks.process_inbound_events.apply_async") as apply_async:
        # when
        first = inbound_events_sweep()
        second = inbound_events_sweep()
    # then only the old one, and not again straight away
    assert first.requeued == 1 and second.requeued == 0
    apply_async.assert_called_once_with(args=([old.pk],), retry=False)
    assert InboundEvent.objects.get(pk=fresh.pk).swept_at is None


def test_sweeper_tries_again_later_when_the_broker_is_down():
    old = InboundEventFactory()
    InboundEvent.objects.filter(pk=old.pk).update(
        received_at=timezone.now() - timedelta(seconds=30)
    )
    with mock.patch(
        "integrations.tasks.process_inbound_events.apply_async", side_effect=ConnectionError
    ):
        inbound_events_sweep()
    assert InboundEvent.objects.get(pk=old.pk).swept_at is None
    with mock.patch("integrations.tasks.process_inbound_events.apply_async") as apply_async:
        inbound_events_sweep()
    apply_async.assert_called_once()


def test_sweeper_reclaims_events_held_by_a_dead_worker(settings):
    stuck = InboundEventFactory(status=Status.PROCESSING)
    started = timezone.now() - timedelta(seconds=settings.INBOUND_PROCESSING_TIMEOUT_SECONDS + 1)
    InboundEvent.objects.filter(pk=stuck.pk).update(
        processing_started_at=started, received_at=started
    )
    busy = InboundEventFactory(status=Status.PROCESSING, processing_started_at=timezone.now())
    with mock.patch("integrations.tasks.process_inbound_events.apply_async"):
        result = inbound_events_sweep()
    assert result.reclaimed == 1
    assert InboundEvent.objects.get(pk=stuck.pk).status == Status.RECEIVED
    assert InboundEvent.objects.get(pk=busy.pk).status == Status.PROCESSING


def test_reprocess_resets_and_the_handler_runs_again(handler, django_capture_on_commit_callbacks):
    event = InboundEventFactory(event_type="ConversationRated")
    inbound_event_process(event_pk=event.pk)
    with mock.patch("integrations.tasks.process_inbound_events.apply_async") as apply_async:
        with django_capture_on_commit_callbacks(execute=True):
            count = inbound_events_reprocess(queryset=InboundEvent.objects.filter(pk=event.pk))
    assert count == 1
    apply_async.assert_called_once_with(args=([event.pk],), retry=False)
    inbound_event_process(event_pk=event.pk)
    assert handler == [event.pk, event.pk]
    event.refresh_from_db()
    assert event.processing_attempts == 2 and event.outcome == Outcome.SKIPPED

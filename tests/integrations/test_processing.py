from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from integrations import events
from integrations.events import HandlerResult
from integrations.models import InboundEvent
from integrations.services.processing import (
    DISPATCH_CHUNK,
    inbound_event_process,
    inbound_events_dispatch,
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


def _age(event, seconds: float, field: str = "received_at") -> None:
    InboundEvent.objects.filter(pk=event.pk).update(
        **{field: timezone.now() - timedelta(seconds=seconds)}
    )


@pytest.fixture
def apply_async():
    with mock.patch("integrations.tasks.process_inbound_events.apply_async") as patched:
        yield patched


def test_dispatch_hands_new_events_over_once_oldest_first(apply_async):
    # given two stored events and one already processed
    first, second = InboundEventFactory(), InboundEventFactory()
    InboundEventFactory(status=Status.PROCESSED)
    # when the dispatcher polls twice
    handed = inbound_events_dispatch()
    again = inbound_events_dispatch()
    # then both went over in one message, marked queued, and not again
    assert (handed, again) == (2, 0)
    apply_async.assert_called_once_with(args=([first.pk, second.pk],), retry=False)
    assert InboundEvent.objects.filter(queued_at=None, status=Status.RECEIVED).count() == 0


def test_dispatch_splits_a_backlog_into_chunks_and_stops_at_the_limit(apply_async):
    events_ = [InboundEventFactory() for _ in range(DISPATCH_CHUNK + 5)]
    assert inbound_events_dispatch(limit=DISPATCH_CHUNK + 3) == DISPATCH_CHUNK + 3
    sent = [call.kwargs["args"][0] for call in apply_async.call_args_list]
    assert [len(ids) for ids in sent] == [DISPATCH_CHUNK, 3]
    assert sum(sent, []) == [e.pk for e in events_[: DISPATCH_CHUNK + 3]]
    assert inbound_events_dispatch() == 2


def test_dispatch_leaves_events_unqueued_when_the_broker_refuses():
    event = InboundEventFactory()
    with mock.patch(
        "integrations.tasks.process_inbound_events.apply_async", side_effect=ConnectionError
    ):
        assert inbound_events_dispatch() is None
    assert InboundEvent.objects.get(pk=event.pk).queued_at is None
    with mock.patch("integrations.tasks.process_inbound_events.apply_async") as apply_async:
        assert inbound_events_dispatch() == 1
    apply_async.assert_called_once_with(args=([event.pk],), retry=False)


def test_sweeper_queues_events_no_dispatcher_took_after_the_grace(settings, apply_async):
    # given one unqueued event older than the grace and one that just arrived
    old, fresh = InboundEventFactory(), InboundEventFactory()
    _age(old, settings.INBOUND_SWEEP_GRACE_SECONDS + 1)
    # when the sweeper runs twice
    first, second = inbound_events_sweep(), inbound_events_sweep()
    # then only the old one went, once; the fresh one is left to the dispatcher
    assert (first.requeued, second.requeued) == (1, 0)
    apply_async.assert_called_once_with(args=([old.pk],), retry=False)
    assert InboundEvent.objects.get(pk=fresh.pk).queued_at is None


def test_sweeper_queues_again_an_event_whose_message_was_lost(settings, apply_async):
    # given an event handed over long ago and never claimed, and one handed over just now
    lost, recent = InboundEventFactory(), InboundEventFactory()
    InboundEvent.objects.update(queued_at=timezone.now())
    _age(lost, settings.INBOUND_REQUEUE_AFTER_SECONDS + 1, field="queued_at")
    # when
    result = inbound_events_sweep()
    # then only the lost one is queued again
    assert result.requeued == 1
    apply_async.assert_called_once_with(args=([lost.pk],), retry=False)
    assert InboundEvent.objects.get(pk=recent.pk).queued_at < timezone.now()


def test_sweeper_tries_again_later_when_the_broker_is_down(settings):
    old = InboundEventFactory()
    _age(old, settings.INBOUND_SWEEP_GRACE_SECONDS + 1)
    with mock.patch(
        "integrations.tasks.process_inbound_events.apply_async", side_effect=ConnectionError
    ):
        inbound_events_sweep()
    assert InboundEvent.objects.get(pk=old.pk).queued_at is None
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


def test_reprocess_resets_and_the_handler_runs_again(handler, apply_async):
    # given a processed event
    event = InboundEventFactory(event_type="ConversationRated")
    inbound_event_process(event_pk=event.pk)
    inbound_events_dispatch()  # nothing to hand over: it was processed
    # when an admin reprocesses it
    count = inbound_events_reprocess(queryset=InboundEvent.objects.filter(pk=event.pk))
    # then the dispatcher hands it over again and the handler runs a second time
    assert count == 1
    assert inbound_events_dispatch() == 1
    apply_async.assert_called_once_with(args=([event.pk],), retry=False)
    inbound_event_process(event_pk=event.pk)
    assert handler == [event.pk, event.pk]
    event.refresh_from_db()
    assert event.processing_attempts == 2 and event.outcome == Outcome.SKIPPED

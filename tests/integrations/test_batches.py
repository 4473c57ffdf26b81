"""Batches: a task takes many events, claims them together and works on each on its own;
the dispatcher holds rows back while the workers are behind, then sends many at once."""

import math
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations import events, outbox
from integrations.events import HandlerResult
from integrations.models import HandlerRun, InboundEvent, InboundEventBody
from integrations.services.processing import INBOUND, inbound_events_process
from integrations.tasks import process_inbound_events
from tests.integrations.factories import InboundEventFactory

pytestmark = pytest.mark.django_db
Status, Outcome = InboundEvent.Status, InboundEvent.Outcome


@pytest.fixture
def bus():
    with mock.patch.dict(events._subscriptions, {"ConversationRated": []}):
        yield events


def rated(**fields) -> InboundEvent:
    return InboundEventFactory(event_type="ConversationRated", **fields)


def test_claim_many_takes_only_the_ready_rows_in_the_given_order():
    first, taken, second, done = rated(), rated(), rated(), rated(status=Status.PROCESSED)
    assert INBOUND.claim(taken.pk)
    assert INBOUND.claim_many([second.pk, taken.pk, done.pk, first.pk]) == [second.pk, first.pk]
    for event in (first, second):
        event.refresh_from_db()
        assert event.status == Status.PROCESSING and event.processing_attempts == 1
    assert INBOUND.claim_many([first.pk, second.pk]) == []  # a duplicate message


def test_claim_many_of_one_row_or_none_takes_what_is_ready():
    event = rated()
    assert INBOUND.claim_many([]) == []
    assert INBOUND.claim_many([event.pk]) == [event.pk]
    assert INBOUND.claim_many([event.pk]) == []  # a duplicate message


def test_a_batch_goes_on_past_an_event_that_fails(bus):
    """One event whose handler raises, one whose body is gone: each recorded, the rest of
    the batch handled."""

    def handle(event):
        if event.record.pk == broken.pk:
            raise RuntimeError("boom")
        return HandlerResult.handled("ok")

    bus.subscribe("ConversationRated", "csat", handle)
    before, broken, bodiless, after = rated(), rated(), rated(), rated()
    InboundEventBody.objects.filter(event=bodiless).delete()

    processed = inbound_events_process([before.pk, broken.pk, bodiless.pk, after.pk])

    assert processed == [before.pk, broken.pk, bodiless.pk, after.pk]
    outcomes = dict(InboundEvent.objects.values_list("pk", "outcome"))
    assert outcomes == {
        before.pk: Outcome.HANDLED,
        broken.pk: Outcome.ERROR,
        bodiless.pk: Outcome.ERROR,
        after.pk: Outcome.HANDLED,
    }
    assert HandlerRun.objects.get(event=broken).reason == "RuntimeError: boom"
    assert "removed by retention" in InboundEvent.objects.get(pk=bodiless.pk).outcome_reason


def test_an_event_whose_outcome_cannot_be_recorded_fails_alone(bus):
    bus.subscribe("ConversationRated", "csat", lambda event: HandlerResult.handled("ok"))
    first, second = rated(), rated()
    real_bulk_create = HandlerRun.objects.bulk_create

    def bulk_create(runs, **kwargs):
        if runs[0].event_id == first.pk:
            raise RuntimeError("disk full")
        return real_bulk_create(runs, **kwargs)

    with mock.patch.object(HandlerRun.objects, "bulk_create", side_effect=bulk_create):
        inbound_events_process([first.pk, second.pk])

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.outcome, first.outcome_reason) == (
        Status.FAILED,
        Outcome.ERROR,
        "RuntimeError: disk full",
    )
    assert not HandlerRun.objects.filter(event=first).exists()  # undone with its handlers
    assert (second.status, second.outcome) == (Status.PROCESSED, Outcome.HANDLED)


def test_a_batch_whose_worker_died_is_reclaimed_whole(settings):
    """The worker claimed a batch and was killed: after the claim timeout every row of it
    is pending again and handed off anew."""
    settings.INBOUND_CLAIM_TIMEOUT_SECONDS = 300
    batch = [rated() for _ in range(3)]
    with time_machine.travel(timezone.now() - timedelta(minutes=6)):
        assert INBOUND.claim_many([e.pk for e in batch]) == [e.pk for e in batch]
    busy = rated()
    INBOUND.claim_many([busy.pk])

    assert INBOUND.reclaim() == 3

    statuses = dict(InboundEvent.objects.values_list("pk", "status"))
    assert [statuses[e.pk] for e in batch] == [Status.RECEIVED] * 3
    assert statuses[busy.pk] == Status.PROCESSING
    with mock.patch("integrations.tasks.process_inbound_events.apply_async") as apply_async:
        assert INBOUND.hand_off() == 3
    apply_async.assert_called_once_with(args=([e.pk for e in batch],), retry=False)


def test_work_made_by_a_batch_is_published_in_one_message(bus, django_capture_on_commit_callbacks):
    """What a batch's handlers publish on commit goes out together when the batch ends
    (any outbox will do: here the events' own)."""

    def handle(event):
        INBOUND.publish_on_commit([event.record.pk + 1000])
        return HandlerResult.handled("ok")

    bus.subscribe("ConversationRated", "csat", handle)
    batch = [rated() for _ in range(3)]
    with (
        mock.patch("integrations.tasks.process_inbound_events.apply_async") as apply_async,
        django_capture_on_commit_callbacks(execute=True),
    ):
        process_inbound_events([e.pk for e in batch])
    apply_async.assert_called_once_with(args=([e.pk + 1000 for e in batch],), retry=False)


def test_what_a_failing_handler_published_is_not_sent(bus, django_capture_on_commit_callbacks):
    def handle(event):
        INBOUND.publish_on_commit([event.record.pk + 1000])
        raise RuntimeError("after publishing")

    bus.subscribe("ConversationRated", "csat", handle)
    event = rated()
    with (
        mock.patch("integrations.tasks.process_inbound_events.apply_async") as apply_async,
        django_capture_on_commit_callbacks(execute=True),
    ):
        inbound_events_process([event.pk])
    apply_async.assert_not_called()


@pytest.mark.django_db(transaction=True)
def test_a_batch_publishes_once_outside_a_test_transaction(bus):
    """As in a worker: each event commits on its own, the publish comes after the last."""

    def handle(event):
        INBOUND.publish_on_commit([event.record.pk + 1000])
        return HandlerResult.handled("ok")

    bus.subscribe("ConversationRated", "csat", handle)
    batch = [rated() for _ in range(3)]
    with mock.patch("integrations.tasks.process_inbound_events.apply_async") as apply_async:
        inbound_events_process([e.pk for e in batch])
    apply_async.assert_called_once_with(args=([e.pk + 1000 for e in batch],), retry=False)


@pytest.mark.django_db(transaction=True)
def test_what_a_batch_committed_is_published_even_when_the_batch_then_raises():
    event = rated()
    with mock.patch("integrations.tasks.process_inbound_events.apply_async") as apply_async:
        # given a batch that committed a row to publish, then broke off
        with pytest.raises(RuntimeError), outbox.publishing_together():
            with transaction.atomic():
                INBOUND.publish_on_commit([event.pk])
            raise RuntimeError("the batch broke off")
    # then the committed row was published all the same
    apply_async.assert_called_once_with(args=([event.pk],), retry=False)


def test_within_a_batch_a_publish_with_a_countdown_goes_alone_and_keeps_it(
    django_capture_on_commit_callbacks,
):
    first, delayed, last = rated(), rated(), rated()
    with (
        mock.patch("integrations.tasks.process_inbound_events.apply_async") as apply_async,
        django_capture_on_commit_callbacks(execute=True),
    ):
        # given a batch publishing three rows, the middle one with a countdown
        with outbox.publishing_together():
            INBOUND.publish_on_commit([first.pk])
            INBOUND.publish_on_commit([delayed.pk], countdown=30)
            INBOUND.publish_on_commit([last.pk])
    # then the delayed one went on its own with its countdown, the others together at the end
    assert apply_async.call_args_list == [
        mock.call(args=([delayed.pk],), retry=False, countdown=30),
        mock.call(args=([first.pk, last.pk],), retry=False),
    ]


def test_a_block_within_a_block_publishes_its_rows_and_leaves_the_outer_one_gathering(
    django_capture_on_commit_callbacks,
):
    outer_first, inner, outer_last = rated(), rated(), rated()
    with (
        mock.patch("integrations.tasks.process_inbound_events.apply_async") as apply_async,
        django_capture_on_commit_callbacks(execute=True),
    ):
        # given a publishing block nested in another, each publishing rows
        with outbox.publishing_together():
            INBOUND.publish_on_commit([outer_first.pk])
            with outbox.publishing_together():
                INBOUND.publish_on_commit([inner.pk])
            INBOUND.publish_on_commit([outer_last.pk])
    # then the inner block's row went when it ended, the outer block's two together after
    assert apply_async.call_args_list == [
        mock.call(args=([inner.pk],), retry=False),
        mock.call(args=([outer_first.pk, outer_last.pk],), retry=False),
    ]


def test_the_dispatcher_holds_rows_back_while_the_workers_are_behind(settings):
    settings.INBOUND_MAX_UNCLAIMED = 2
    waiting = [rated(queued_at=timezone.now()) for _ in range(2)]  # handed off, not claimed
    assert INBOUND.room() == 0
    backlog = [rated() for _ in range(3)]

    INBOUND.claim_many([e.pk for e in waiting])  # a worker takes them

    assert INBOUND.room() == 2
    with mock.patch("integrations.tasks.process_inbound_events.apply_async") as apply_async:
        assert INBOUND.hand_off() == 3
    apply_async.assert_called_once_with(args=([e.pk for e in backlog],), retry=False)


def test_rows_waiting_longer_than_the_window_hold_nothing_back(settings):
    """Their message may be lost (a wiped Redis): new events must not wait for the requeue."""
    settings.INBOUND_MAX_UNCLAIMED = 2
    settings.INBOUND_REQUEUE_AFTER_SECONDS = 60
    a_while_ago = timezone.now() - outbox.ROOM_WINDOW - timedelta(seconds=1)
    for _ in range(2):
        rated(queued_at=a_while_ago)
    assert INBOUND.room() == 2


def test_without_a_limit_there_is_always_room(settings):
    settings.INBOUND_MAX_UNCLAIMED = 0
    for _ in range(3):
        rated(queued_at=timezone.now())
    assert INBOUND.room() == math.inf


def test_the_dispatcher_says_so_only_when_it_hands_a_row_off_again(settings, caplog):
    settings.INBOUND_REQUEUE_AFTER_SECONDS = 60
    rated()  # new: handed off without a word
    rated(queued_at=timezone.now() - timedelta(minutes=5))  # its message was lost
    with mock.patch("integrations.tasks.process_inbound_events.apply_async"):
        assert INBOUND.hand_off() == 2
        assert [r.getMessage() for r in caplog.records if r.name == "integrations.outbox"] == [
            "inbound events: 1 row(s) handed off again, their message seems lost"
        ]
        caplog.clear()
        rated()
        assert INBOUND.hand_off() == 1
    assert not [r for r in caplog.records if r.name == "integrations.outbox"]


def test_a_notified_hand_off_skips_the_look_first_and_still_takes_only_due_rows():
    with mock.patch("integrations.tasks.process_inbound_events.apply_async") as apply_async:
        with CaptureQueriesContext(connection) as queries:
            assert INBOUND.hand_off(expected=True) == 0  # announced, but another took it
        assert queries.captured_queries  # it looked, with the lock
        assert not any("SELECT 1 AS" in q["sql"] for q in queries.captured_queries)
        event = rated()
        assert INBOUND.hand_off(expected=True) == 1
    apply_async.assert_called_once_with(args=([event.pk],), retry=False)


def test_a_poll_with_nothing_due_only_looks_without_a_lock():
    # given an event already handed off just now: nothing is due
    rated(queued_at=timezone.now())
    # when the dispatcher polls
    with CaptureQueriesContext(connection) as queries:
        assert INBOUND.hand_off() == 0
    # then it asked once whether any row is due, and took no lock
    assert len(queries.captured_queries) == 1
    assert "SELECT 1 AS" in queries.captured_queries[0]["sql"]

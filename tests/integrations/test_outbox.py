"""The outbox mechanics, on inbound events (ivr's surveys use the same `Outbox`)."""

from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from integrations.models import HandlerRun, InboundEvent
from integrations.services.processing import INBOUND
from tests.integrations.factories import InboundEventFactory
from tests.support.locks import locked_elsewhere

pytestmark = pytest.mark.django_db
Status, Outcome = InboundEvent.Status, InboundEvent.Outcome


@pytest.fixture
def apply_async():
    with mock.patch("integrations.tasks.process_inbound_events.apply_async") as patched:
        yield patched


def test_hand_off_publishes_ready_rows_once_oldest_first(apply_async):
    # given two stored events and one already processed
    first, second = InboundEventFactory(), InboundEventFactory()
    InboundEventFactory(status=Status.PROCESSED)
    # when the dispatcher hands off twice
    handed, again = INBOUND.hand_off(), INBOUND.hand_off()
    # then both went over in one message, stamped, and not again
    assert (handed, again) == (2, 0)
    apply_async.assert_called_once_with(args=([first.pk, second.pk],), retry=False)
    assert not InboundEvent.objects.filter(queued_at=None, status=Status.RECEIVED).exists()


def test_hand_off_splits_a_backlog_into_chunks_and_stops_at_the_limit(apply_async):
    stored = [InboundEventFactory() for _ in range(INBOUND.chunk + 5)]
    assert INBOUND.hand_off(limit=INBOUND.chunk + 3) == INBOUND.chunk + 3
    sent = [call.kwargs["args"][0] for call in apply_async.call_args_list]
    assert [len(ids) for ids in sent] == [INBOUND.chunk, 3]
    assert sum(sent, []) == [e.pk for e in stored[: INBOUND.chunk + 3]]
    assert INBOUND.hand_off() == 2


def test_rows_the_broker_refused_stay_due():
    event = InboundEventFactory()
    with mock.patch(
        "integrations.tasks.process_inbound_events.apply_async", side_effect=ConnectionError
    ):
        assert INBOUND.hand_off() is None
    assert InboundEvent.objects.get(pk=event.pk).queued_at is None
    with mock.patch("integrations.tasks.process_inbound_events.apply_async") as apply_async:
        assert INBOUND.hand_off() == 1
    apply_async.assert_called_once_with(args=([event.pk],), retry=False)


def test_a_refusal_midway_leaves_the_sent_chunks_stamped_and_the_rest_due(apply_async):
    # given three chunks' worth of due events, and a broker that refuses the second message
    stored = [InboundEventFactory().pk for _ in range(2 * INBOUND.chunk + 1)]
    apply_async.side_effect = [None, ConnectionError("broker down"), None]
    # when the dispatcher hands them off
    assert INBOUND.hand_off() is None
    # then nothing was tried after the refusal, and only the chunk that went keeps its stamp
    assert apply_async.call_count == 2
    unstamped = InboundEvent.objects.filter(queued_at=None).values_list("pk", flat=True)
    assert sorted(unstamped) == stored[INBOUND.chunk :]
    # and the next pass sends the rest, and only the rest
    apply_async.reset_mock(side_effect=True)
    assert INBOUND.hand_off() == INBOUND.chunk + 1
    sent = [pk for call in apply_async.call_args_list for pk in call.kwargs["args"][0]]
    assert sent == stored[INBOUND.chunk :]


def test_an_announced_row_no_longer_ready_is_neither_stamped_nor_sent(apply_async):
    # given two announced events, one processed before the dispatcher got to its notification
    done, new = InboundEventFactory(status=Status.PROCESSED), InboundEventFactory()
    # when the dispatcher hands off the announced rows
    assert INBOUND.hand_off_announced([done.pk, new.pk]) == 1
    # then only the new one was sent, and the processed one was left as it was
    apply_async.assert_called_once_with(args=([new.pk],), retry=False)
    assert InboundEvent.objects.get(pk=done.pk).queued_at is None


def test_publish_on_commit_sends_after_the_commit_and_nothing_after_a_rollback(
    apply_async, django_capture_on_commit_callbacks
):
    kept, undone = InboundEventFactory(), InboundEventFactory()
    with django_capture_on_commit_callbacks(execute=True):
        # given one publish in a transaction rolled back, and one in a transaction still open
        with pytest.raises(RuntimeError), transaction.atomic():
            INBOUND.publish_on_commit([undone.pk])
            raise RuntimeError("rolled back")
        INBOUND.publish_on_commit([kept.pk])
        # then nothing goes before the commit
        apply_async.assert_not_called()
    # and only the committed one goes after it
    apply_async.assert_called_once_with(args=([kept.pk],), retry=False)


def test_a_row_whose_message_was_lost_is_handed_off_again(settings, apply_async):
    # given an event handed off at 12:00 and never claimed, and one handed off just now
    with time_machine.travel("2026-11-22 12:00:00Z", tick=False):
        lost = InboundEventFactory()
        INBOUND.hand_off()
    with time_machine.travel("2026-11-22 12:00:50Z", tick=False):
        recent = InboundEventFactory()
        INBOUND.hand_off()
    apply_async.reset_mock()
    # when the dispatcher passes after REQUEUE_AFTER (60 s) for the first only
    with time_machine.travel("2026-11-22 12:01:01Z", tick=False):
        assert INBOUND.hand_off() == 1
    # then only the lost one goes again
    apply_async.assert_called_once_with(args=([lost.pk],), retry=False)
    assert InboundEvent.objects.get(pk=recent.pk).queued_at.second == 50


def test_claim_is_taken_once():
    event = InboundEventFactory()
    assert INBOUND.claim(event.pk) is True
    assert INBOUND.claim(event.pk) is False
    event.refresh_from_db()
    assert (event.status, event.processing_attempts) == (Status.PROCESSING, 1)


def test_reclaim_puts_back_rows_held_by_a_dead_worker(settings, caplog):
    # given one event claimed 6 minutes ago (timeout 5) and one claimed just now
    with time_machine.travel("2026-11-22 12:00:00Z", tick=False):
        stuck = InboundEventFactory()
        INBOUND.claim(stuck.pk)
    with time_machine.travel("2026-11-22 12:05:59Z", tick=False):
        busy = InboundEventFactory()
        INBOUND.claim(busy.pk)
    # when the dispatcher reclaims
    with time_machine.travel("2026-11-22 12:06:00Z", tick=False):
        assert INBOUND.reclaim() == 1
    # then only the stuck one is back to be handed off
    stuck.refresh_from_db()
    assert (stuck.status, stuck.queued_at) == (Status.RECEIVED, None)
    assert InboundEvent.objects.get(pk=busy.pk).status == Status.PROCESSING
    assert [r.getMessage() for r in caplog.records if r.name == "integrations.outbox"] == [
        "inbound events: 1 row(s) reclaimed from a lost worker"
    ]


def test_reclaim_with_no_row_held_too_long_changes_nothing_and_says_nothing(caplog):
    # given one event claimed just now
    busy = InboundEventFactory()
    INBOUND.claim(busy.pk)
    # when the dispatcher reclaims
    assert INBOUND.reclaim() == 0
    # then the claim stands and nothing is logged
    assert InboundEvent.objects.get(pk=busy.pk).status == Status.PROCESSING
    assert not [r for r in caplog.records if r.name == "integrations.outbox"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_claim_many_leaves_a_row_another_worker_has_locked_to_it_without_waiting():
    # given two ready events, one locked by another worker's claim still in progress
    locked, free = InboundEventFactory(), InboundEventFactory()
    # when this worker claims both
    with locked_elsewhere(InboundEvent, locked.pk):
        taken = INBOUND.claim_many([locked.pk, free.pk])
    # then it takes the free one at once and leaves the locked one to the other worker
    assert taken == [free.pk]
    assert InboundEvent.objects.get(pk=locked.pk).status == Status.RECEIVED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_hand_off_leaves_a_row_another_dispatcher_has_locked_to_it_without_waiting(apply_async):
    # given two due events, one being handed off by another dispatcher
    locked, free = InboundEventFactory(), InboundEventFactory()
    # when this dispatcher hands off
    with locked_elsewhere(InboundEvent, locked.pk):
        assert INBOUND.hand_off() == 1
    # then it sent only the free one
    apply_async.assert_called_once_with(args=([free.pk],), retry=False)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_claim_many_lets_rows_pointing_at_the_claimed_rows_be_inserted_meanwhile():
    """Its locks are FOR NO KEY UPDATE: another connection's INSERT of a row that references
    a claimed row (a handler run; a delivery attempt for surveys) takes FOR KEY SHARE on it
    for the foreign key check, and must not wait for the claim's transaction."""
    # given two events claimed in a transaction still open
    first, second = InboundEventFactory(), InboundEventFactory()
    other = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with transaction.atomic():
            assert INBOUND.claim_many([first.pk, second.pk]) == [first.pk, second.pk]
            # when another connection records a handler run for the first meanwhile
            with other.cursor() as cursor:
                cursor.execute("SET lock_timeout = '1s'")
                cursor.execute(
                    f"INSERT INTO {HandlerRun._meta.db_table} "  # noqa: S608
                    "(event_id, handler, outcome, reason, attempts) VALUES (%s, 'csat', '', '', 0)",
                    [first.pk],
                )
    finally:
        other.close()
    # then it went in without waiting for the claim to commit
    assert HandlerRun.objects.filter(event_id=first.pk).count() == 1


def test_an_event_that_keeps_killing_its_worker_ends_as_an_error(settings):
    # given an event whose worker died on it INBOUND_MAX_CLAIMS times
    settings.INBOUND_MAX_CLAIMS = 2
    event = InboundEventFactory()
    moment = timezone.now()
    for _ in range(2):
        with time_machine.travel(moment, tick=False):
            INBOUND.claim(event.pk)
        moment += timedelta(seconds=settings.INBOUND_CLAIM_TIMEOUT_SECONDS + 1)
        with time_machine.travel(moment, tick=False):
            INBOUND.reclaim()
    # then it is given up with the reason, not tried forever
    event.refresh_from_db()
    assert (event.status, event.outcome) == (Status.FAILED, Outcome.ERROR)
    assert "gave up after 2 tries" in event.outcome_reason
    assert INBOUND.claim(event.pk) is False

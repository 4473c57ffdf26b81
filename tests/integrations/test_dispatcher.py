"""The dispatcher against PostgreSQL, in a thread, with the broker stubbed."""

import random
import threading
from unittest import mock

import pytest
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from integrations.dispatcher import Dispatcher
from integrations.dixa import envelope, samples
from integrations.models import InboundEvent
from integrations.outbox import NOTIFY_CHANNEL, Outbox
from integrations.services import queueing
from integrations.services.ingest import inbound_event_record
from integrations.services.processing import INBOUND
from tests.integrations.factories import InboundEventFactory
from tests.support.processes import wait_until

# The thread has its own connection: rows must be committed for it to see them.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


class Broker:
    """Stands in for Celery's publish; refuses while `down` is set."""

    def __init__(self):
        self.down = threading.Event()
        self.published: list[list[int]] = []

    def apply_async(self, args, retry, **options):
        if self.down.is_set():
            raise ConnectionError("broker down")
        self.published.append(args[0])

    def handed_over(self) -> set[int]:
        return {pk for ids in self.published for pk in ids}


@pytest.fixture
def broker(settings):
    settings.ENQUEUE_BACKOFF_SECONDS = 0.2
    stub = Broker()
    with mock.patch(
        "integrations.tasks.process_inbound_events.apply_async", side_effect=stub.apply_async
    ):
        yield stub


@pytest.fixture
def start_dispatcher():
    running = []

    def start(poll_seconds: float) -> Dispatcher:
        dispatcher = Dispatcher(poll_seconds=poll_seconds, reclaim_seconds=3600)
        thread = threading.Thread(target=dispatcher.run, daemon=True)
        thread.start()
        running.append((dispatcher, thread))
        return dispatcher

    yield start
    for dispatcher, thread in running:
        dispatcher.stop()
        thread.join(timeout=5)
        assert not thread.is_alive()


def ingested(account) -> int:
    """An event stored as ingest stores it: the INSERT sends NOTIFY."""
    body = samples.encode(samples.event("ConversationClosed", rng=random.Random()))  # noqa: S311
    return inbound_event_record(
        account=account,
        envelope=envelope.parse(body),
        raw_body=body,
        headers={},
        verification=InboundEvent.Verification.VERIFIED,
    )


def test_a_stored_event_wakes_the_dispatcher_through_notify(broker, start_dispatcher, account):
    # given a dispatcher whose poll would not come for an hour, after its first pass
    dispatcher = start_dispatcher(poll_seconds=3600)
    wait_until(lambda: dispatcher.listening, 10, "the dispatcher to LISTEN")
    # when ingest stores events
    pks = {ingested(account) for _ in range(3)}
    # then NOTIFY woke it and each went over once
    wait_until(lambda: broker.handed_over() == pks, 10, "the events to be handed over")
    published = [pk for ids in broker.published for pk in ids]
    assert sorted(published) == sorted(pks)


def test_notifications_that_arrive_together_wake_it_for_every_row(
    broker, start_dispatcher, account
):
    # given a dispatcher whose poll would not come for an hour, after its first pass
    dispatcher = start_dispatcher(poll_seconds=3600)
    wait_until(lambda: dispatcher.listening, 10, "the dispatcher to LISTEN")
    # when one transaction stores three events: their notifications come in one batch
    with transaction.atomic():
        pks = {ingested(account) for _ in range(3)}
    # then every row named in the batch is handed over, not only the first
    wait_until(lambda: broker.handed_over() == pks, 10, "the events to be handed over")


def test_ingest_announces_the_new_row_by_table_and_id_only_once_committed(account):
    # given a connection listening as the dispatcher does
    listener = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with listener.cursor() as cursor:
            cursor.execute(f"LISTEN {NOTIFY_CHANNEL}")
        # when ingest stores an event in a transaction, which then commits
        with transaction.atomic():
            pk = ingested(account)
            with listener.cursor() as cursor:
                cursor.execute("SELECT 1")  # a round trip: what was sent so far has arrived
            before_commit = [n.payload for n in listener.connection.notifies(timeout=0)]
        at_commit = [n.payload for n in listener.connection.notifies(timeout=10, stop_after=1)]
    finally:
        listener.close()
    # then nothing was announced before the commit, and the new row at it
    assert before_commit == []
    assert at_commit == [f"{InboundEvent._meta.db_table}:{pk}"]


def test_the_slow_poll_finds_rows_stored_without_a_notification(broker, start_dispatcher):
    # given rows written without NOTIFY (as after a missed notification)
    start_dispatcher(poll_seconds=0.2)
    pks = {InboundEventFactory().pk for _ in range(2)}
    # then the poll hands them over
    wait_until(lambda: broker.handed_over() == pks, 10, "the poll to hand them over")


def test_events_stored_while_the_broker_is_down_go_once_it_is_back(
    broker, start_dispatcher, account
):
    # given a broker that refuses
    broker.down.set()
    dispatcher = start_dispatcher(poll_seconds=3600)
    wait_until(lambda: dispatcher.listening, 10, "the dispatcher to LISTEN")
    pk = ingested(account)
    # then, once a publish was refused, the event waits unstamped in the database (the
    # refusal is seen before the row is unstamped: both are waited for)
    wait_until(
        lambda: queueing._paused_until > 0 and InboundEvent.objects.get(pk=pk).queued_at is None,
        10,
        "a refused publish and the event unstamped",
    )
    # when the broker is back, with nothing restarted, it is handed over
    broker.down.clear()
    wait_until(lambda: pk in broker.handed_over(), 10, "the event after the outage")


def test_a_notification_passes_over_the_outbox_it_names_only(broker):
    # given a dispatcher that has just passed over every outbox
    dispatcher = Dispatcher(poll_seconds=3600, reclaim_seconds=3600)
    dispatcher.run_once()
    # when a notification names the inbound events' table
    with mock.patch.object(Outbox, "hand_off", autospec=True, return_value=0) as hand_off:
        dispatcher.run_once({InboundEvent._meta.db_table: set()})
    # then only that outbox is looked at; the others wait for their poll
    assert [call.args[0] for call in hand_off.call_args_list] == [INBOUND]


def test_a_notification_with_ids_stamps_just_those_rows_in_one_statement(
    broker, account, django_assert_num_queries
):
    # given a dispatcher that has just passed over every outbox, and two new events
    dispatcher = Dispatcher(poll_seconds=3600, reclaim_seconds=3600)
    dispatcher.run_once()
    first, second = ingested(account), ingested(account)
    # when the notification of the first arrives: the room check and one UPDATE
    with django_assert_num_queries(2):
        dispatcher.run_once({InboundEvent._meta.db_table: {first}})
    # then the first alone was handed over; the second waits for its own notification
    assert broker.published == [[first]]
    assert InboundEvent.objects.get(pk=second).queued_at is None


def test_two_dispatchers_woken_by_one_notification_hand_a_row_over_once(broker, account):
    one, other = (Dispatcher(poll_seconds=3600, reclaim_seconds=3600) for _ in range(2))
    one.run_once()
    other.run_once()
    pk = ingested(account)
    # when both hear of the row
    one.run_once({InboundEvent._meta.db_table: {pk}})
    other.run_once({InboundEvent._meta.db_table: {pk}})
    # then it was published once, by the first to stamp it
    assert broker.published == [[pk]]


def test_after_holding_rows_back_the_next_pass_takes_every_due_row(broker, account, settings):
    # given the events workers are behind: as many handed-off events wait as allowed
    settings.INBOUND_MAX_UNCLAIMED = 1
    dispatcher = Dispatcher(poll_seconds=3600, reclaim_seconds=3600)
    dispatcher.run_once()
    waiting = ingested(account)
    dispatcher.run_once({InboundEvent._meta.db_table: {waiting}})
    held = ingested(account)
    dispatcher.run_once({InboundEvent._meta.db_table: {held}})
    assert broker.handed_over() == {waiting}
    # when the worker has taken its event and the next one is announced
    INBOUND.claim(waiting)
    newest = ingested(account)
    dispatcher.run_once({InboundEvent._meta.db_table: {newest}})
    # then the held one goes too, with it in one message
    assert broker.published[-1] == [held, newest]


def test_the_dispatcher_asks_for_room_again_only_once_it_is_used_up(broker, account, settings):
    # given room for three handed-off events waiting for a worker
    settings.INBOUND_MAX_UNCLAIMED = 3
    dispatcher = Dispatcher(poll_seconds=3600, reclaim_seconds=3600)
    dispatcher.run_once()
    with mock.patch.object(Outbox, "room", autospec=True, side_effect=Outbox.room) as room:
        # when four events are announced one by one and no worker takes any
        announced = []
        for _ in range(4):
            announced.append(ingested(account))
            dispatcher.run_once({InboundEvent._meta.db_table: {announced[-1]}})
    # then it asked once for the first three, and again for the fourth, which waits
    assert room.call_count == 2
    assert broker.handed_over() == set(announced[:3])

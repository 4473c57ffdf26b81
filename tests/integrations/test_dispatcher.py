"""The worker's dispatcher thread against the database, with the broker stubbed."""

import threading
from unittest import mock

import pytest

from integrations.dispatcher import Dispatcher
from integrations.models import InboundEvent
from integrations.services import queueing
from tests.integrations.factories import InboundEventFactory
from tests.support.processes import wait_until

# The thread has its own connection: rows must be committed for it to see them.
pytestmark = pytest.mark.django_db(transaction=True)


class Broker:
    """Stands in for Celery's publish; refuses while `down` is set."""

    def __init__(self):
        self.down = threading.Event()
        self.published: list[list[int]] = []

    def apply_async(self, args, retry):
        if self.down.is_set():
            raise ConnectionError("broker down")
        self.published.append(args[0])


@pytest.fixture
def broker(settings):
    settings.ENQUEUE_BACKOFF_SECONDS = 0
    stub = Broker()
    with mock.patch(
        "integrations.tasks.process_inbound_events.apply_async", side_effect=stub.apply_async
    ):
        yield stub


@pytest.fixture
def dispatcher(broker):
    thread = Dispatcher(interval=0.01, batch=500)
    thread.start()
    yield thread
    thread.stopping.set()
    thread.join(timeout=5)
    assert not thread.is_alive()


def handed_over(broker) -> set[int]:
    return {pk for ids in broker.published for pk in ids}


def test_stored_events_are_handed_over_once(broker, dispatcher):
    # given events stored while the dispatcher runs
    pks = {InboundEventFactory().pk for _ in range(5)}
    # then each is published, marked queued, and not published again
    wait_until(lambda: handed_over(broker) == pks, 10, "the events to be handed over")
    InboundEventFactory(status=InboundEvent.Status.PROCESSED)  # never a candidate
    later = InboundEventFactory().pk
    wait_until(lambda: later in handed_over(broker), 10, "a later event")
    published = [pk for ids in broker.published for pk in ids]
    assert sorted(published) == sorted([*pks, later])
    assert not InboundEvent.objects.filter(status="received", queued_at=None).exists()


def test_events_stored_while_the_broker_is_down_go_once_it_is_back(broker, dispatcher):
    # given a broker that refuses
    broker.down.set()
    pk = InboundEventFactory().pk
    wait_until(lambda: queueing._paused_until > 0, 10, "a refused publish")
    # then the event waits, unqueued, in the database
    assert InboundEvent.objects.get(pk=pk).queued_at is None
    # when the broker is back, with nothing restarted, it is handed over
    broker.down.clear()
    wait_until(lambda: pk in handed_over(broker), 10, "the event after the outage")
    assert dispatcher.is_alive()

import time

import pytest
import redis

from integrations import handoff
from integrations.services import queueing

pytestmark = pytest.mark.redis
TASK = "integrations.tasks.process_inbound_events"


class RecordingTask:
    name = TASK

    def __init__(self):
        self.published = []

    def apply_async(self, args, retry):
        self.published.append(args[0])


@pytest.fixture
def on_redis(settings):
    settings.REDIS_URL = settings.TEST_REDIS_URL
    handoff._push_client = None
    client = redis.Redis.from_url(settings.TEST_REDIS_URL)
    client.flushdb()
    yield client
    handoff._push_client = None


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_ingest_ids_go_through_the_list_and_leave_in_batches(on_redis, settings):
    # given ids handed off by the web process while no dispatcher runs
    settings.ENQUEUE_IN_BACKGROUND = True
    task = RecordingTask()
    for pk in (1, 2, 3):
        queueing.enqueue_in_background(task, pk)
    queueing.publisher.drain()
    wait_for(lambda: on_redis.llen(handoff.LISTS[TASK]) == 3)
    assert task.published == []  # nothing was published to Celery from the web process
    # when a worker's dispatcher runs
    dispatcher = handoff.Dispatcher(task, handoff.LISTS[TASK])
    dispatcher.start()
    try:
        wait_for(lambda: task.published)
    finally:
        dispatcher.stopping.set()
        dispatcher.join(5)
    # then they are published oldest first, together
    assert task.published == [[1, 2, 3]]
    assert on_redis.llen(handoff.LISTS[TASK]) == 0


def test_only_listed_tasks_use_the_list(on_redis, settings):
    settings.ENQUEUE_IN_BACKGROUND = False

    class Other(RecordingTask):
        name = "some.other.task"

    other = Other()
    queueing.enqueue_in_background(other, 9)
    assert other.published == [[9]]
    assert on_redis.keys("relay:handoff:*") == []


def test_a_failed_push_is_left_to_the_sweeper(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.REDIS_SOCKET_TIMEOUT = 0.2
    settings.ENQUEUE_BACKOFF_SECONDS = 60
    handoff._push_client = None
    try:
        queueing._send(RecordingTask(), [1])  # logs and pauses; raises nothing
        assert queueing._paused_until > time.monotonic()
    finally:
        handoff._push_client = None
        queueing.reset()

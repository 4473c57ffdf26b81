import threading
import time
from unittest import mock

from integrations.services import queueing


class SlowTask:
    """A task whose publish blocks, like kombu trying to reach a stopped Redis."""

    name = "slow"

    def __init__(self):
        self.published = []
        self.release = threading.Event()

    def apply_async(self, args, retry):
        self.release.wait(5)
        self.published.append(args)


def test_background_hand_off_returns_before_the_publish_finishes(settings):
    # given a publish that blocks
    settings.ENQUEUE_IN_BACKGROUND = True
    task = SlowTask()
    # when the request thread hands off
    queueing.enqueue_in_background(task, 42)
    # then it returned while the publish is still blocked (a synchronous hand-off would
    # have waited for the block to time out and published first)
    assert task.published == []
    task.release.set()
    queueing.publisher.drain()
    deadline = time.monotonic() + 5
    while not task.published and time.monotonic() < deadline:
        time.sleep(0.01)
    assert task.published == [([42],)]


def test_after_a_failure_enqueue_pauses_instead_of_waiting_again(settings):
    settings.ENQUEUE_BACKOFF_SECONDS = 60
    task = mock.Mock()
    task.name = "t"
    task.apply_async.side_effect = ConnectionError("down")
    assert queueing.enqueue(task, 1) is False
    assert queueing.enqueue(task, 2) is False
    assert task.apply_async.call_count == 1  # the second call did not touch the broker


def test_ids_that_pile_up_leave_as_one_message(settings):
    # given a publisher that is busy with a slow first publish
    settings.ENQUEUE_IN_BACKGROUND = True
    task = SlowTask()
    queueing.enqueue_in_background(task, 1)
    deadline = time.monotonic() + 5
    while not queueing.publisher._queue.empty() and time.monotonic() < deadline:
        time.sleep(0.01)  # the thread has taken id 1 and is blocked publishing it
    # when more ids arrive meanwhile
    for pk in range(2, 7):
        queueing.enqueue_in_background(task, pk)
    task.release.set()
    deadline = time.monotonic() + 5
    while len(task.published) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    # then they were published together, after the first
    assert task.published == [([1],), ([2, 3, 4, 5, 6],)]

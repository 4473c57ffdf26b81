from unittest import mock

from integrations.services import queueing


def test_after_a_failure_enqueue_pauses_instead_of_waiting_again(settings):
    # given a broker that refuses
    settings.ENQUEUE_BACKOFF_SECONDS = 60
    task = mock.Mock()
    task.name = "t"
    task.apply_async.side_effect = ConnectionError("down")
    # when two publishes follow each other
    first, second = queueing.enqueue(task, 1), queueing.enqueue(task, 2)
    # then both report failure, and the second did not touch the broker
    assert (first, second) == (False, False)
    assert task.apply_async.call_count == 1


def test_enqueue_passes_a_countdown_only_when_given():
    task = mock.Mock()
    task.name = "t"
    assert queueing.enqueue(task, 7) is True
    assert queueing.enqueue(task, 8, countdown=30) is True
    assert task.apply_async.call_args_list == [
        mock.call(args=(7,), retry=False),
        mock.call(args=(8,), retry=False, countdown=30),
    ]

"""Each kind of work has its own Celery queue (docs/spine.md, "Queues per kind of work"),
and the workers `make run` starts consume every queue a task is routed to."""

import pytest
from celery import current_app

from integrations import launcher

EXPECTED = {
    "integrations.tasks.process_inbound_events": "events",
    "integrations.tasks.purge_expired": "events",
    "integrations.tasks.evaluate_alerts": "events",
    "integrations.tasks.notify_alert_incident": "dixa",
    "integrations.tasks.dixa_action": "dixa",
    "integrations.tasks.dixa_sync": "dixa",
    "integrations.tasks.dixa_maintain": "dixa",
    "integrations.tasks.dixa_watch": "dixa",
    "ivr.tasks.deliver_surveys": "surveys",
    "ivr.tasks.count_daily": "surveys",
    "pgap.tasks.capture_predictions": "dixa",
    "pgap.tasks.write_back_customer_score": "dixa",
}


def queue_of(name: str) -> str:
    return current_app.amqp.router.route({}, name)["queue"].name


def ours() -> list[str]:
    current_app.loader.import_default_modules()  # every app's tasks module
    return sorted(
        n for n in current_app.tasks if n.split(".")[0] in ("integrations", "ivr", "pgap")
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_task_goes_to_the_queue_of_its_kind_of_work(name):
    assert queue_of(name) == EXPECTED[name]


def test_every_task_of_ours_is_routed_here_and_consumed_by_a_worker():
    consumed = set()
    for args in (launcher.events_worker(), launcher.http_worker()):
        consumed |= set(args[args.index("--queues") + 1].split(","))
    assert ours() == sorted(EXPECTED)  # a new task gets its queue said above
    assert {queue_of(name) for name in ours()} <= consumed

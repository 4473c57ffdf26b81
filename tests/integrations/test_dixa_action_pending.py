"""An action asked for on a Dixa connection's page (Connect, Check now, …) runs on a worker:
until it is done, the page says it waits and reloads itself, for two minutes at most; the
task carries the request's own stamp, so a worker clears that request (and older ones),
never a newer one, whatever its clock says."""

import re
from datetime import datetime, timedelta
from unittest import mock

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from integrations.clients.http import ApiUnavailable
from integrations.models import DixaConnection
from integrations.services import dixa_actions
from integrations.services.dixa_actions import dixa_action_request, dixa_action_run
from integrations.services.dixa_connect import Outcome
from integrations.tasks import dixa_action
from tests.integrations.factories import AccountFactory

pytestmark = pytest.mark.django_db
PUBLISH = "integrations.tasks.dixa_action.apply_async"
BUSY = ApiUnavailable("Dixa busy (503)")


@pytest.fixture
def connection(db):
    return DixaConnection.objects.create(account=AccountFactory(), api_token="dixa-test-token")


def requested(connection, action) -> tuple:
    """Press `action`'s button (queued, not run): the task's arguments."""
    with mock.patch(PUBLISH) as publish:
        assert dixa_action_request(account=connection.account, action=action)
    return publish.call_args.kwargs["args"]


def run(args, **kwargs):
    """The worker runs the task with those arguments (its first try unless said)."""
    return dixa_action.apply(args=args, **kwargs)


def page(client, connection) -> str:
    url = reverse("admin:integrations_dixaconnection_change", args=[connection.pk])
    return client.get(url).content.decode()


def waiting(html: str) -> dict | None:
    """The page's waiting notice: its text and how often the page reloads (0: it doesn't)."""
    found = re.search(r'<p id="dixa-pending"[^>]*data-reload-seconds="(\d+)">([^<]*)</p>', html)
    if not found:
        return None
    reloads = "reload_while_pending.js" in html
    return {"seconds": int(found[1]), "text": found[2], "script": reloads}


def mark(connection) -> str:
    connection.refresh_from_db()
    return connection.action_requested


def test_the_page_waits_for_a_queued_action_until_the_worker_has_run_it(admin_client, connection):
    # when the admin presses Check now (queued, not yet run)
    url = reverse("admin:integrations_dixaconnection_action", args=[connection.pk, "watch"])
    with mock.patch(PUBLISH) as publish:
        admin_client.post(url)
    # then the page says so and reloads itself every 3 s
    shown = waiting(page(admin_client, connection))
    assert shown is not None and shown["seconds"] == 3 and shown["script"]
    assert shown["text"].startswith("Check now requested at ")
    # when the worker has run it, the page shows the outcome and no longer waits
    assert run(publish.call_args.kwargs["args"]).successful()
    html = page(admin_client, connection)
    assert waiting(html) is None and "reload_while_pending.js" not in html
    assert mark(connection) == ""


def test_the_page_reloads_itself_only_when_loaded_with_get(admin_client, connection):
    requested(connection, "watch")
    url = reverse("admin:integrations_dixaconnection_change", args=[connection.pk])
    # a refused save shows the form again as a POST's answer: reloading it would post again
    answer = admin_client.post(url, {"api_token": "a token\nwith a line break"})
    assert answer.status_code == 200 and "errornote" in answer.content.decode()
    assert waiting(answer.content.decode()) is None
    assert waiting(page(admin_client, connection)) is not None  # as it is on a GET


def test_after_two_minutes_the_page_stops_reloading_and_after_twenty_says_it_was_lost(
    admin_client, connection
):
    requested(connection, "connect")
    with time_machine.travel(timezone.now() + timedelta(minutes=3)):
        shown = waiting(page(admin_client, connection))
    assert shown["seconds"] == 0 and not shown["script"]
    assert "not done after 3 minutes" in shown["text"]
    assert "no worker takes the dixa queue" in shown["text"]
    with time_machine.travel(timezone.now() + timedelta(minutes=21)):
        shown = waiting(page(admin_client, connection))
    assert shown["seconds"] == 0 and "never answered" in shown["text"]


def test_a_worker_whose_clock_is_behind_still_ends_the_wait(connection):
    args = requested(connection, "watch")
    with time_machine.travel(timezone.now() - timedelta(seconds=30)):
        assert run(args).successful()
    assert mark(connection) == ""


def test_a_request_made_while_an_earlier_one_runs_or_waits_waits_for_its_own_run(connection):
    # given Check now, then Rotate pressed before Check now's run ends
    check = requested(connection, "watch")

    def meanwhile(account):
        requested(connection, "key_rotate")
        return Outcome(True, "done")

    with mock.patch.dict(dixa_actions.ACTIONS, {"watch": meanwhile}):
        run(check)
    # then Rotate still waits, until its own run
    assert mark(connection) == "key_rotate"
    rotate = requested(connection, "key_rotate")
    with mock.patch.dict(dixa_actions.ACTIONS, {"key_rotate": lambda account: Outcome(True, "")}):
        run(rotate)
    assert mark(connection) == ""


def test_a_retry_that_succeeds_after_a_later_press_leaves_that_press_waiting(connection):
    # given Check now met a busy Dixa (to be tried again), and Rotate was pressed since
    check = requested(connection, "watch")
    with mock.patch.dict(dixa_actions.ACTIONS, {"watch": mock.Mock(side_effect=BUSY)}):
        with pytest.raises(ApiUnavailable):
            dixa_action_run(account_id=connection.account_id, action="watch", retried=True)
    requested(connection, "key_rotate")
    # when Check now's retry succeeds
    run(check)
    # then Rotate still waits
    assert mark(connection) == "key_rotate"


@pytest.mark.parametrize(
    "error, retried, still_waits",
    [
        (BUSY, True, True),  # the task tries again
        (BUSY, False, False),  # its last try
        (ValueError("a bug"), True, False),  # not retried: done, failed
    ],
)
def test_a_failed_run_leaves_the_request_waiting_only_while_it_is_tried_again(
    connection, error, retried, still_waits
):
    account_id, action, stamp = requested(connection, "watch")
    with (
        mock.patch.dict(dixa_actions.ACTIONS, {"watch": mock.Mock(side_effect=error)}),
        pytest.raises(type(error)),
    ):
        dixa_action_run(
            account_id=account_id,
            action=action,
            requested_at=datetime.fromisoformat(stamp),
            retried=retried,
        )
    assert (mark(connection) == "watch") is still_waits
    if not still_waits:  # and the page says why it ended
        assert connection.detail == f"Check now did not finish: {error}"


def test_the_task_on_its_last_try_ends_the_wait(connection):
    args = requested(connection, "watch")
    busy = mock.Mock(side_effect=BUSY)
    with mock.patch.dict(dixa_actions.ACTIONS, {"watch": busy}):
        result = run(args, retries=8)
    assert result.failed()
    assert mark(connection) == ""


def test_the_command_leaves_the_admins_requests_waiting(connection):
    requested(connection, "watch")
    dixa_action_run(account_id=connection.account_id, action="watch")  # manage.py dixa_connect
    assert mark(connection) == "watch"


def test_a_broker_that_refuses_leaves_the_mark_as_it_was(connection):
    requested(connection, "watch")
    with mock.patch(PUBLISH, side_effect=ConnectionError("down")):
        assert dixa_action_request(account=connection.account, action="connect") is False
    assert mark(connection) == "watch"

"""An action asked for on a Dixa connection's page (Connect, Check now, …) runs on a worker:
until it is done, the page says it waits and reloads itself, for two minutes at most; a
request made while an earlier one runs waits for its own run."""

import re
from datetime import timedelta
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


@pytest.fixture
def connection(db):
    return DixaConnection.objects.create(account=AccountFactory(), api_token="dixa-test-token")


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


def mark(connection) -> tuple[str, object]:
    connection.refresh_from_db()
    return connection.action_requested, connection.action_requested_at


def test_the_page_waits_for_a_queued_action_until_the_worker_has_run_it(admin_client, connection):
    # when the admin presses Check now (queued, not yet run)
    url = reverse("admin:integrations_dixaconnection_action", args=[connection.pk, "watch"])
    with mock.patch(PUBLISH):
        admin_client.post(url)
    # then the page says so and reloads itself every 3 s
    shown = waiting(page(admin_client, connection))
    assert shown is not None and shown["seconds"] == 3 and shown["script"]
    assert shown["text"].startswith("Check now requested at ")
    # when the worker has run it, the page shows the outcome and no longer waits
    dixa_action_run(account_id=connection.account_id, action="watch")
    html = page(admin_client, connection)
    assert waiting(html) is None and "reload_while_pending.js" not in html
    assert mark(connection) == ("", None)


def test_after_two_minutes_the_page_stops_reloading_and_says_what_may_be_wrong(
    admin_client, connection
):
    with mock.patch(PUBLISH):
        dixa_action_request(account=connection.account, action="connect")
    with time_machine.travel(timezone.now() + timedelta(minutes=3)):
        shown = waiting(page(admin_client, connection))
    assert shown["seconds"] == 0 and not shown["script"]
    assert "not done after 3 minutes" in shown["text"]
    assert "no worker takes the dixa queue" in shown["text"]


def test_a_request_made_while_an_action_runs_waits_for_its_own_run(connection):
    # given an action whose run is under way when the admin asks again
    def meanwhile(account):
        with mock.patch(PUBLISH):
            dixa_action_request(account=account, action="key_rotate")
        return Outcome(True, "done")

    with mock.patch(PUBLISH):
        dixa_action_request(account=connection.account, action="watch")
    with mock.patch.dict(dixa_actions.ACTIONS, {"watch": meanwhile}):
        dixa_action_run(account_id=connection.account_id, action="watch")
    # then the later request still waits
    assert mark(connection)[0] == "key_rotate"


@pytest.mark.parametrize(
    "error, retried, still_waits",
    [
        (ApiUnavailable("Dixa busy"), True, True),  # the task tries again
        (ApiUnavailable("Dixa busy"), False, False),  # its last try
        (ValueError("a bug"), True, False),  # not retried: done, failed
    ],
)
def test_a_failed_run_leaves_the_request_waiting_only_while_it_is_tried_again(
    connection, error, retried, still_waits
):
    with mock.patch(PUBLISH):
        dixa_action_request(account=connection.account, action="watch")
    with (
        mock.patch.dict(dixa_actions.ACTIONS, {"watch": mock.Mock(side_effect=error)}),
        pytest.raises(type(error)),
    ):
        dixa_action_run(account_id=connection.account_id, action="watch", retried=retried)
    assert (mark(connection)[0] == "watch") is still_waits


def test_the_task_on_its_last_try_ends_the_wait(connection):
    with mock.patch(PUBLISH):
        dixa_action_request(account=connection.account, action="watch")
    busy = mock.Mock(side_effect=ApiUnavailable("Dixa busy"))
    with mock.patch.dict(dixa_actions.ACTIONS, {"watch": busy}):
        result = dixa_action.apply(args=(connection.account_id, "watch"), retries=8)
    assert result.failed()
    assert mark(connection) == ("", None)


def test_a_broker_that_refuses_leaves_nothing_waiting(connection):
    with mock.patch(PUBLISH, side_effect=ConnectionError("down")):
        assert dixa_action_request(account=connection.account, action="connect") is False
    assert mark(connection) == ("", None)

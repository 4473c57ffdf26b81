"""Inbound events in the management API: filters, cursor pages, bad input, reprocess."""

from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.audit.models import AuditEntry
from integrations.models import HandlerRun, InboundEvent, InboundEventBody
from tests.integrations.api import make_staff, token_client
from tests.integrations.factories import InboundEventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(account, django_user_model):
    return token_client(make_staff(django_user_model, "alice", account))


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_filters_select_events(client, account):
    # given
    closed = InboundEventFactory(
        account=account, event_type="ConversationClosed", csid=42, status="processed"
    )
    failed = InboundEventFactory(account=account, status="failed", outcome="error")
    old = InboundEventFactory(account=account)
    InboundEvent.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(days=3))
    since = (timezone.now() - timedelta(days=1)).isoformat()
    # when / then
    assert ids(client.get("/api/v1/events?event_type=ConversationClosed")) == [closed.pk]
    assert ids(client.get("/api/v1/events?csid=42")) == [closed.pk]
    assert ids(client.get("/api/v1/events?status=failed&outcome=error")) == [failed.pk]
    assert ids(client.get("/api/v1/events", {"received_after": since})) == [failed.pk, closed.pk]
    assert ids(client.get("/api/v1/events", {"received_before": since})) == [old.pk]
    everything = client.get(f"/api/v1/events?account={account.slug}")
    assert ids(everything) == [old.pk, failed.pk, closed.pk]  # in the order they arrived


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=nope", "status"),
        ("csid=1.5", "csid"),
        ("csid=7.0", "csid"),
        ("csid=%EF%BC%97", "csid"),  # a full-width 7
        ("csid=99999999999999999999999", "csid"),
        ("received_after=yesterday", "received_after"),
        ("account=", "account"),
        ("stauts=failed", "stauts"),
        ("event_type=" + "x" * 101, "event_type"),
        ("event_id=a%00b", "event_id"),
        ("account=a%00b", "account"),
        ("cursor=bogus", "cursor"),
        ("page_size=0", "page_size"),
        ("page_size=-3", "page_size"),
    ],
)
def test_invalid_filters_are_400_naming_the_parameter(client, account, query, field):
    # when
    response = client.get(f"/api/v1/events?{query}")
    # then
    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
    assert field in response.json()["detail"]


def test_pages_follow_the_cursor_newest_first(client, account):
    # given
    events = InboundEventFactory.create_batch(5, account=account)
    # when
    seen, url = [], "/api/v1/events?page_size=2"
    while url:
        page = client.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    # then
    assert seen == sorted((e.pk for e in events), reverse=True)


def test_one_event_shows_its_handlers_outcomes(client, account):
    # given
    event = InboundEventFactory(account=account)
    HandlerRun.objects.create(event=event, handler="ivr", outcome="skipped", reason="no mapping")
    # when
    body = client.get(f"/api/v1/events/{event.pk}").json()
    # then
    assert body["handler_runs"] == [
        {
            "handler": "ivr",
            "outcome": "skipped",
            "reason": "no mapping",
            "attempts": 0,
            "finished_at": None,
        }
    ]


def test_reprocess_queues_the_event_and_is_audited(
    client, account, django_capture_on_commit_callbacks
):
    # given
    event = InboundEventFactory(account=account, status="processed", outcome="handled")
    # when
    with django_capture_on_commit_callbacks():
        response = client.post(f"/api/v1/events/{event.pk}/reprocess", {}, format="json")
    # then
    assert response.status_code == 202 and response.json() == {"queued": 1}
    event.refresh_from_db()
    assert (event.status, event.outcome) == ("received", "")
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor.username, entry.account_id) == (
        "event reprocess",
        "alice",
        account.pk,
    )
    assert entry.summary.endswith("(API)")


def test_reprocess_refuses_an_unknown_handler_and_a_body_retention_removed(client, account):
    # given
    event = InboundEventFactory(account=account, status="processed")
    bare = InboundEventFactory(account=account, status="processed")
    InboundEventBody.objects.filter(event=bare).delete()
    # when
    unknown = client.post(f"/api/v1/events/{event.pk}/reprocess", {"handler": "x"}, format="json")
    removed = client.post(f"/api/v1/events/{bare.pk}/reprocess", {}, format="json")
    form = client.post(f"/api/v1/events/{event.pk}/reprocess", {"handler": ""})
    # then
    assert unknown.status_code == 400 and "handler" in unknown.json()["detail"]
    assert removed.status_code == 409
    assert form.status_code == 415
    assert InboundEvent.objects.get(pk=event.pk).status == "processed"


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(params=st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=4))
def test_arbitrary_query_strings_never_give_a_server_error(client, account, params):
    # when
    response = client.get("/api/v1/events", params)
    # then
    assert response.status_code in (200, 400)
    assert response["Content-Type"] == "application/json"

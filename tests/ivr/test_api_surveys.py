"""Surveys in the management API: filters, one survey with its tries, and the actions
(resend, cancel, retry now, resend dead letters since T), each audited."""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.audit.models import AuditEntry
from ivr.models import SurveyTrigger
from tests.integrations.api import make_staff, token_client
from tests.ivr.factories import DeliveryAttemptFactory, IvrMappingFactory, SurveyTriggerFactory

pytestmark = pytest.mark.django_db
Status = SurveyTrigger.Status


@pytest.fixture
def mapping(db):
    return IvrMappingFactory()


@pytest.fixture
def client(mapping, django_user_model):
    return token_client(make_staff(django_user_model, "alice", mapping.account))


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_filters_select_surveys(client, mapping):
    # given
    other_mapping = IvrMappingFactory(account=mapping.account, queue_id="other")
    failed = SurveyTriggerFactory(mapping=mapping, status=Status.FAILED, last_status_code=400)
    pending = SurveyTriggerFactory(mapping=other_mapping, csid=77)
    # when / then
    assert ids(client.get("/api/v1/surveys?status=failed")) == [failed.pk]
    assert ids(client.get("/api/v1/surveys?last_status_code=400")) == [failed.pk]
    assert ids(client.get(f"/api/v1/surveys?mapping={other_mapping.pk}")) == [pending.pk]
    assert ids(client.get("/api/v1/surveys?csid=77")) == [pending.pk]
    assert client.get("/api/v1/surveys?status=dead").status_code == 400
    assert client.get("/api/v1/surveys?mapping=x").status_code == 400


def test_one_survey_shows_its_tries(client, mapping):
    # given
    attempt = DeliveryAttemptFactory(
        trigger=SurveyTriggerFactory(mapping=mapping),
        response_status_code=503,
        outcome="retry",
        request_headers={"Authorization": "apikey secret"},
    )
    # when
    body = client.get(f"/api/v1/surveys/{attempt.trigger_id}").json()
    # then: the outcome of each try, never its headers
    assert [(a["number"], a["response_status_code"]) for a in body["attempts"]] == [(1, 503)]
    assert "secret" not in str(body)


def test_resend_starts_a_dead_letter_over_and_is_audited(
    client, mapping, django_capture_on_commit_callbacks
):
    # given
    dead = SurveyTriggerFactory(mapping=mapping, status=Status.FAILED, attempt_count=5)
    # when
    with django_capture_on_commit_callbacks():
        response = client.post(f"/api/v1/surveys/{dead.pk}/resend")
    # then
    assert response.status_code == 202 and response.json() == {"changed": 1}
    dead.refresh_from_db()
    assert (dead.status, dead.attempt_count, dead.reason) == ("pending", 0, "resent by alice (API)")
    assert AuditEntry.objects.get().action == "survey resend"


def test_cancel_and_retry_act_on_pending_surveys_only(
    client, mapping, django_capture_on_commit_callbacks
):
    # given
    later = timezone.now() + timedelta(hours=1)
    waiting = SurveyTriggerFactory(mapping=mapping, next_attempt_at=later)
    pending = SurveyTriggerFactory(mapping=mapping)
    delivered = SurveyTriggerFactory(mapping=mapping, status=Status.DELIVERED)
    # when
    with django_capture_on_commit_callbacks():
        retried = client.post(f"/api/v1/surveys/{waiting.pk}/retry")
    cancelled = client.post(f"/api/v1/surveys/{pending.pk}/cancel")
    refused = [
        client.post(f"/api/v1/surveys/{delivered.pk}/{action}")
        for action in ("cancel", "retry", "resend")
    ]
    # then
    assert retried.status_code == 202 and retried.json() == {"queued": 1}
    waiting.refresh_from_db()
    assert waiting.next_attempt_at < later
    assert cancelled.status_code == 202
    assert SurveyTrigger.objects.get(pk=pending.pk).status == Status.CANCELLED
    assert [r.status_code for r in refused] == [409, 409, 409]
    assert all(r.json()["error"] == "conflict" for r in refused)
    assert SurveyTrigger.objects.get(pk=delivered.pk).status == Status.DELIVERED
    assert sorted(AuditEntry.objects.values_list("action", flat=True)) == [
        "survey cancel",
        "survey cancel",
        "survey resend",
        "survey retry now",
        "survey retry now",
    ]


def test_resend_dead_letters_since_a_time(client, mapping, django_capture_on_commit_callbacks):
    # given
    now = timezone.now()
    recent = SurveyTriggerFactory(mapping=mapping, status=Status.FAILED, finished_at=now)
    old = SurveyTriggerFactory(
        mapping=mapping, status=Status.FAILED, finished_at=now - timedelta(days=2)
    )
    # when
    with django_capture_on_commit_callbacks():
        response = client.post(
            "/api/v1/surveys/resend-dead-letters",
            {"since": (now - timedelta(hours=1)).isoformat(), "account": mapping.account.slug},
            format="json",
        )
    # then
    assert response.status_code == 202 and response.json() == {"resent": 1}
    assert SurveyTrigger.objects.get(pk=recent.pk).status == Status.PENDING
    assert SurveyTrigger.objects.get(pk=old.pk).status == Status.FAILED
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.object_count) == ("survey resend since", 1)


@pytest.mark.parametrize(
    "body",
    [{}, {"since": "soon"}, {"since": "2026-01-01T00:00:00Z", "account": ""}, ["since"]],
)
def test_resend_since_refuses_a_bad_body(client, mapping, body):
    # when
    response = client.post("/api/v1/surveys/resend-dead-letters", body, format="json")
    # then
    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
    assert not AuditEntry.objects.exists()

"""Retention for the relay: attempts of surveys finished long enough ago go; the survey
trigger keeps its outcome (status, attempt_count, last_status_code, reason)."""

import uuid
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command

from integrations import retention
from integrations.retention import retention_purge
from ivr.models import DeliveryAttempt, SurveyTrigger
from tests.ivr.factories import IvrMappingFactory

pytestmark = pytest.mark.django_db
Status = SurveyTrigger.Status
NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@pytest.fixture
def mapping():
    return IvrMappingFactory()


def survey(mapping, status, *, tried: list[datetime], finished: datetime | None = None):
    """A trigger tried at the times in `tried` (create them oldest first, as delivery does),
    then left in `status`, finished at `finished`."""
    trigger = SurveyTrigger.objects.create(
        account=mapping.account,
        mapping=mapping,
        dedupe_key=str(uuid.uuid4()),
        campaign_id=mapping.campaign_id,
        payload={},
    )
    for number, when in enumerate(tried, start=1):
        with time_machine.travel(when, tick=False):
            DeliveryAttempt.objects.create(
                trigger=trigger,
                number=number,
                request_url="https://nps.test/campaigns/7232/respondent",
                request_body={},
                response_status_code=503,
                response_body="busy " * 100,
                outcome=DeliveryAttempt.Outcome.RETRY,
            )
    SurveyTrigger.objects.filter(pk=trigger.pk).update(
        status=status,
        finished_at=finished,
        attempt_count=len(tried),
        last_status_code=503 if tried else None,
        reason=f"ended {status}",
    )
    return SurveyTrigger.objects.get(pk=trigger.pk)


def attempts(trigger) -> int:
    return DeliveryAttempt.objects.filter(trigger=trigger).count()


def test_the_step_is_registered():
    assert "delivery_attempts" in {step.name for step in retention.steps()}


def test_attempts_of_surveys_finished_long_ago_go_and_the_trigger_keeps_its_outcome(mapping):
    delivered = survey(
        mapping, Status.DELIVERED, tried=[days_ago(41), days_ago(40)], finished=days_ago(40)
    )
    failed = survey(mapping, Status.FAILED, tried=[days_ago(35)], finished=days_ago(35))
    cancelled = survey(mapping, Status.CANCELLED, tried=[days_ago(34)], finished=days_ago(31))
    recent = survey(mapping, Status.DELIVERED, tried=[days_ago(29)], finished=days_ago(29))
    assert retention_purge(now=NOW)["delivery_attempts"] == 4
    assert [attempts(t) for t in (delivered, failed, cancelled, recent)] == [0, 0, 0, 1]
    kept = SurveyTrigger.objects.get(pk=delivered.pk)
    assert (kept.status, kept.attempt_count, kept.last_status_code, kept.reason) == (
        Status.DELIVERED,
        2,
        503,
        "ended delivered",
    )


def test_attempts_of_surveys_not_finished_stay_whatever_their_age(mapping):
    pending = survey(mapping, Status.PENDING, tried=[days_ago(60)])
    held = survey(mapping, Status.HELD, tried=[days_ago(59)])
    sending = survey(mapping, Status.SENDING, tried=[days_ago(58)])
    done = survey(mapping, Status.FAILED, tried=[days_ago(57)], finished=days_ago(57))
    assert retention_purge(now=NOW)["delivery_attempts"] == 1
    assert [attempts(t) for t in (pending, held, sending, done)] == [1, 1, 1, 0]


def test_old_attempts_of_a_survey_finished_recently_stay(mapping):
    # tried 40 days ago, held while the nps.today key was disabled, delivered last week
    late = survey(mapping, Status.DELIVERED, tried=[days_ago(40), days_ago(7)], finished=NOW)
    assert retention_purge(now=NOW)["delivery_attempts"] == 0
    assert attempts(late) == 2


def test_batches_dry_run_and_zero_days(settings, mapping):
    settings.RETENTION_BATCH_SIZE = 2
    triggers = [
        survey(mapping, Status.DELIVERED, tried=[days_ago(50 - i)], finished=days_ago(50 - i))
        for i in range(5)
    ]
    assert retention_purge(now=NOW, dry_run=True)["delivery_attempts"] == 5
    settings.RETENTION_ATTEMPT_DAYS = 0
    assert retention_purge(now=NOW)["delivery_attempts"] == 0
    assert DeliveryAttempt.objects.count() == 5
    settings.RETENTION_ATTEMPT_DAYS = 30
    settings.RETENTION_MAX_BATCHES = 2
    assert retention_purge(now=NOW)["delivery_attempts"] == 4  # two batches of two
    assert [attempts(t) for t in triggers] == [0, 0, 0, 0, 1]
    assert retention_purge(now=NOW)["delivery_attempts"] == 1


def test_command_reports_the_attempts(mapping):
    survey(mapping, Status.DELIVERED, tried=[days_ago(40)], finished=days_ago(40))
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("purge_expired", stdout=out)
    assert "delivery_attempts: removed 1" in out.getvalue().splitlines()
    assert not DeliveryAttempt.objects.exists()

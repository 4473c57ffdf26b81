"""Retention: event bodies and rejected deliveries go after their days, in batches; the
events, their outcomes and handler runs stay."""

from datetime import UTC, datetime, timedelta
from io import StringIO
from unittest import mock

import pytest
import time_machine
from django.core.management import call_command
from django.db import DatabaseError
from django.db.models import QuerySet

from integrations import retention
from integrations.models import HandlerRun, InboundEvent, InboundEventBody, RejectedDelivery
from integrations.retention import first_pk_since, retention_purge
from tests.integrations.factories import AccountFactory, InboundEventFactory

pytestmark = pytest.mark.django_db
Status, Outcome = InboundEvent.Status, InboundEvent.Outcome
NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def event_at(when: datetime, status=Status.PROCESSED, **fields) -> InboundEvent:
    """An event (with its body) received at `when`. Create them oldest first, as ingest does:
    retention relies on keys following arrival."""
    with time_machine.travel(when, tick=False):
        return InboundEventFactory(status=status, **fields)


def rejected_at(when: datetime, account) -> RejectedDelivery:
    with time_machine.travel(when, tick=False):
        return RejectedDelivery.objects.create(
            account=account, status_code=400, reason="not JSON", raw_body=b"{", body_size=1
        )


def has_body(event: InboundEvent) -> bool:
    return InboundEventBody.objects.filter(pk=event.pk).exists()


def test_old_bodies_go_and_recent_ones_stay():
    old = event_at(days_ago(31), outcome=Outcome.HANDLED)
    failed = event_at(days_ago(30.5), status=Status.FAILED, outcome=Outcome.ERROR)
    recent = event_at(days_ago(29))
    assert retention_purge(now=NOW)["event_bodies"] == 2
    assert (has_body(old), has_body(failed), has_body(recent)) == (False, False, True)


def test_the_events_their_outcomes_and_handler_runs_stay():
    event = event_at(days_ago(40), outcome=Outcome.SKIPPED, outcome_reason="no mapping")
    HandlerRun.objects.create(event=event, handler="survey", outcome="skipped", reason="no map")
    assert retention_purge(now=NOW)["event_bodies"] == 1
    assert not has_body(event)
    kept = InboundEvent.objects.get(pk=event.pk)
    assert (kept.status, kept.outcome, kept.outcome_reason) == (
        Status.PROCESSED,
        Outcome.SKIPPED,
        "no mapping",
    )
    assert HandlerRun.objects.filter(event=event, outcome="skipped").count() == 1


def test_bodies_of_events_not_yet_processed_stay_whatever_their_age():
    waiting = event_at(days_ago(60), status=Status.RECEIVED)
    claimed = event_at(days_ago(59), status=Status.PROCESSING)
    done = event_at(days_ago(58))
    assert retention_purge(now=NOW)["event_bodies"] == 1
    assert (has_body(waiting), has_body(claimed), has_body(done)) == (True, True, False)


def test_purge_goes_in_batches_and_stops_at_the_limit_per_run(settings):
    settings.RETENTION_BATCH_SIZE = 2
    events = [event_at(days_ago(40 - i)) for i in range(5)]
    batches = []

    def recorded(queryset, batch_size, **kwargs):
        removed = real_batch_delete(queryset, batch_size, **kwargs)
        if queryset.model is InboundEventBody:
            batches.append(removed)
        return removed

    real_batch_delete = retention.batch_delete
    with mock.patch.object(retention, "batch_delete", recorded):
        settings.RETENTION_MAX_BATCHES = 2
        assert retention_purge(now=NOW)["event_bodies"] == 4
        assert [has_body(e) for e in events] == [False] * 4 + [True]  # oldest first
        settings.RETENTION_MAX_BATCHES = 100
        assert retention_purge(now=NOW)["event_bodies"] == 1
    # two full batches, then (next run) a short one, which ends the step
    assert batches == [2, 2, 1]
    assert not InboundEventBody.objects.exists()


def test_dry_run_counts_and_changes_nothing(account):
    events = [event_at(days_ago(31)), event_at(days_ago(31)), event_at(days_ago(1))]
    refused = rejected_at(days_ago(31), account)
    counts = retention_purge(now=NOW, dry_run=True)
    assert (counts["event_bodies"], counts["rejected_deliveries"]) == (2, 1)
    assert all(has_body(e) for e in events)
    assert RejectedDelivery.objects.filter(pk=refused.pk).exists()


def test_zero_days_keeps_forever(settings, account):
    settings.RETENTION_EVENT_BODY_DAYS = 0
    settings.RETENTION_REJECTED_DAYS = 0
    event = event_at(days_ago(3000))
    refused = rejected_at(days_ago(3000), account)
    assert retention_purge(now=NOW, dry_run=True)["event_bodies"] == 0
    counts = retention_purge(now=NOW)
    assert (counts["event_bodies"], counts["rejected_deliveries"]) == (0, 0)
    assert has_body(event)
    assert RejectedDelivery.objects.filter(pk=refused.pk).exists()


def test_days_are_a_setting(settings):
    settings.RETENTION_EVENT_BODY_DAYS = 7
    week_old, day_old = event_at(days_ago(8)), event_at(days_ago(6))
    assert retention_purge(now=NOW)["event_bodies"] == 1
    assert (has_body(week_old), has_body(day_old)) == (False, True)


def test_old_rejected_deliveries_go():
    account = AccountFactory()
    old, recent = rejected_at(days_ago(31), account), rejected_at(days_ago(29), account)
    assert retention_purge(now=NOW)["rejected_deliveries"] == 1
    assert list(RejectedDelivery.objects.values_list("pk", flat=True)) == [recent.pk]
    assert old.pk != recent.pk


def test_a_step_failing_on_the_database_does_not_stop_the_others():
    event = event_at(days_ago(31))
    broken = retention.Step("broken", mock.Mock(side_effect=DatabaseError("lock timeout")), len)
    steps = {"broken": broken, "event_bodies": retention._steps["event_bodies"]}
    with mock.patch.dict(retention._steps, steps, clear=True):
        with pytest.raises(DatabaseError, match="lock timeout"):
            retention_purge(now=NOW)
    assert not has_body(event)


def test_first_pk_since_bisects_the_key_for_the_first_recent_row():
    events = [event_at(days_ago(days)) for days in (50, 45, 40, 35, 31, 29, 20, 10, 1)]
    InboundEvent.objects.filter(pk__in=[events[3].pk, events[5].pk]).delete()  # gaps
    rows = InboundEvent.objects.all()
    assert first_pk_since(rows, "received_at", days_ago(30)) == events[6].pk
    assert first_pk_since(rows, "received_at", days_ago(45)) == events[1].pk
    assert first_pk_since(rows, "received_at", days_ago(60)) == events[0].pk
    assert first_pk_since(rows, "received_at", NOW) is None
    assert first_pk_since(InboundEvent.objects.none(), "received_at", NOW) is None


def test_command_prints_what_would_go_then_what_went():
    event = event_at(days_ago(31))
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("purge_expired", "--dry-run", stdout=out)
        assert "event_bodies: would remove 1" in out.getvalue().splitlines()
        assert has_body(event)
        out = StringIO()
        call_command("purge_expired", stdout=out)
    lines = out.getvalue().splitlines()
    assert "event_bodies: removed 1" in lines
    assert "rejected_deliveries: removed 0" in lines
    assert not has_body(event)


def test_command_says_when_a_run_cannot_take_everything(settings):
    settings.RETENTION_BATCH_SIZE, settings.RETENTION_MAX_BATCHES = 1, 2
    for _ in range(3):
        event_at(days_ago(31))
    out = StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("purge_expired", "--dry-run", stdout=out)
    assert "event_bodies: would remove 3 (a run removes at most 2; the next runs go on)" in (
        out.getvalue().splitlines()
    )


def test_the_beat_task_purges(settings):
    from integrations.tasks import purge_expired

    event = event_at(days_ago(31))
    with time_machine.travel(NOW, tick=False):
        assert purge_expired.apply().get()["event_bodies"] == 1
    assert not has_body(event)
    assert settings.CELERY_BEAT_SCHEDULE["purge-expired"]["task"] == purge_expired.name


def test_command_logs_its_progress_per_step(caplog):
    caplog.set_level("INFO", logger="relay.progress")
    for _ in range(2):
        event_at(days_ago(31))
    with time_machine.travel(NOW, tick=False):
        call_command("purge_expired", stdout=StringIO(), stderr=StringIO())
    lines = [record.getMessage() for record in caplog.records]
    assert "retention event_bodies: 2/2 (100%)" in lines[0]
    assert lines[0].endswith("0 s left (finished)")


def test_first_pk_since_counts_a_row_stamped_exactly_at_the_moment_as_since():
    events = [event_at(days_ago(days)) for days in (40, 35, 31)]
    rows = InboundEvent.objects.all()
    assert first_pk_since(rows, "received_at", days_ago(40)) == events[0].pk
    assert first_pk_since(rows, "received_at", days_ago(35)) == events[1].pk
    assert first_pk_since(rows, "received_at", days_ago(31)) == events[2].pk


def test_one_day_is_a_day_not_forever(settings, account):
    settings.RETENTION_EVENT_BODY_DAYS = 1
    settings.RETENTION_REJECTED_DAYS = 1
    old, recent = event_at(days_ago(2)), event_at(days_ago(0.5))
    refused = rejected_at(days_ago(2), account)
    counts = retention_purge(now=NOW)
    assert (counts["event_bodies"], counts["rejected_deliveries"]) == (1, 1)
    assert (has_body(old), has_body(recent)) == (False, True)
    assert not RejectedDelivery.objects.filter(pk=refused.pk).exists()


def test_a_body_whose_event_is_reprocessed_between_select_and_delete_stays_uncounted():
    event = event_at(days_ago(31))
    real_delete = QuerySet.delete

    def reprocessed_first(queryset):
        InboundEvent.objects.filter(pk=event.pk).update(status=Status.RECEIVED)
        return real_delete(queryset)

    with mock.patch.object(QuerySet, "delete", reprocessed_first):
        assert retention.event_bodies_purge(NOW, 10) == 0
    assert has_body(event)


def test_every_failing_step_is_logged_and_the_first_failure_is_raised(caplog):
    first = retention.Step("first", mock.Mock(side_effect=DatabaseError("lock timeout")), len)
    second = retention.Step("second", mock.Mock(side_effect=DatabaseError("deadlock")), len)
    with mock.patch.dict(retention._steps, {"first": first, "second": second}, clear=True):
        with pytest.raises(DatabaseError, match="lock timeout"):
            retention_purge(now=NOW)
    failed = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert failed == ["retention: step first failed", "retention: step second failed"]


def test_the_progress_total_is_what_one_run_can_remove(settings):
    settings.RETENTION_BATCH_SIZE, settings.RETENTION_MAX_BATCHES = 2, 2
    for _ in range(5):
        event_at(days_ago(31))
    totals = {}

    def progress(label, total):
        totals[label] = total
        return mock.Mock()

    assert retention_purge(now=NOW, progress=progress)["event_bodies"] == 4
    assert (totals["retention event_bodies"], totals["retention rejected_deliveries"]) == (4, 0)


def test_a_run_logs_what_each_step_removed_and_when_it_stopped_short(settings, caplog):
    caplog.set_level("INFO", logger="integrations.retention")
    settings.RETENTION_BATCH_SIZE, settings.RETENTION_MAX_BATCHES = 1, 2
    for _ in range(3):
        event_at(days_ago(31))
    retention_purge(now=NOW)
    assert [r.getMessage() for r in caplog.records if r.name == "integrations.retention"] == [
        "retention: event_bodies stopped after 2 batches; the next run goes on",
        "retention: event_bodies removed 2 rows",
    ]


def test_registering_a_step_again_replaces_it_and_unregistering_removes_it():
    def count(now):
        return 0

    first, second = mock.Mock(return_value=0), mock.Mock(return_value=0)
    try:
        retention.register("extra", first, count=count)
        retention.register("extra", second, count=count)
        assert [s.purge for s in retention.steps() if s.name == "extra"] == [second]
    finally:
        retention.unregister("extra")
    assert "extra" not in {s.name for s in retention.steps()}
    retention.unregister("extra")  # unknown: nothing to do


def test_the_body_scan_stops_at_the_first_key_received_since_the_cutoff():
    # the key bound keeps the scan (and the DELETE) off the recent rows
    old, recent = event_at(days_ago(31)), event_at(days_ago(1))
    expired = retention.expired_event_bodies(NOW)
    assert f'"integrations_inboundeventbody"."event_id" < {recent.pk}' in str(expired.query)
    assert list(expired.values_list("pk", flat=True)) == [old.pk]

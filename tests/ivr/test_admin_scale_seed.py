"""seed_admin_scale writes consistent history (PostgreSQL only)."""

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count

from integrations.models import HandlerRun, InboundEvent, InboundEventBody
from ivr.models import DeliveryAttempt, SurveyTrigger

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_seeding_writes_events_bodies_runs_surveys_and_tries():
    # when 1,000 events with 600 surveys are seeded over 2 accounts
    call_command("seed_admin_scale", "--events=1000", "--surveys=600", "--accounts=2")
    # then seven in ten are closes, each with a body and a handler run
    assert InboundEvent.objects.count() == 1000
    assert InboundEvent.objects.filter(event_type="ConversationClosed").count() == 700
    assert InboundEventBody.objects.count() == 1000
    assert HandlerRun.objects.count() == 700
    # and 600 of the closes became surveys, linked to their event and mapping
    handled = InboundEvent.objects.filter(outcome="handled")
    assert handled.count() == 600
    assert SurveyTrigger.objects.filter(inbound_event__in=handled).count() == 600
    # and every finished survey has its tries (a dead letter five)
    tries = dict(
        SurveyTrigger.objects.annotate(n=Count("attempts")).values_list("status", "n").distinct()
    )
    assert tries["delivered"] == 1 and tries["failed"] == 5
    assert DeliveryAttempt.objects.count() == sum(
        SurveyTrigger.objects.values_list("attempt_count", flat=True)
    )
    # and the customers recur, findable by their contacts
    assert InboundEvent.objects.filter(requester_email="customer-1@example.com").exists()


def test_more_surveys_than_closes_is_refused():
    with pytest.raises(CommandError, match="at most 70 surveys"):
        call_command("seed_admin_scale", "--events=100", "--surveys=71", "--accounts=1")

"""Dates in the admin are ISO 8601 with a 24-hour clock, typed and shown, whatever the
admin's country (config/formats/en/formats.py)."""

from datetime import UTC, datetime

import pytest
from django import forms
from django.urls import reverse
from django.utils import formats

from ivr.models import SurveyTrigger
from tests.ivr.factories import SurveyTriggerFactory


def test_a_day_month_date_is_refused_not_read_as_month_day():
    field = forms.DateField()
    with pytest.raises(forms.ValidationError):
        field.clean("07/12/2026")  # 7 December to a Dane, 12 July to en-us's defaults
    assert field.clean("2026-12-07").isoformat() == "2026-12-07"


def test_a_moment_is_shown_to_the_second_on_a_24_hour_clock():
    moment = datetime(2026, 12, 7, 16, 46, 28, tzinfo=UTC)
    assert formats.localize(moment) == "2026-12-07 16:46:28"


@pytest.mark.django_db
def test_a_surveys_page_shows_its_next_try_to_the_second(admin_client):
    trigger = SurveyTriggerFactory(
        status=SurveyTrigger.Status.PENDING,
        next_attempt_at=datetime(2026, 12, 7, 16, 46, 33, tzinfo=UTC),
    )
    page = admin_client.get(reverse("admin:ivr_surveytrigger_change", args=[trigger.pk]))
    assert "2026-12-07 16:46:33" in page.content.decode()

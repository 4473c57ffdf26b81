"""Logs that tell the story: one INFO line per survey decision, with the account and ids,
never the person."""

import logging
from unittest import mock

import pytest

from integrations.services.processing import inbound_event_process
from ivr.models import SurveyTrigger
from tests.ivr.factories import IvrMappingFactory
from tests.ivr.helpers import stored_event

pytestmark = pytest.mark.django_db
EMAIL = "jane@example.com"


@pytest.fixture(autouse=True)
def _no_publish():
    with mock.patch("ivr.tasks.deliver_surveys.apply_async"):
        yield


def decisions(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "ivr.services.triggers"]


def test_a_created_survey_is_one_line_with_its_ids(caplog):
    mapping = IvrMappingFactory()
    event = stored_event(mapping.account, csid=501)
    with caplog.at_level(logging.INFO, logger="ivr.services.triggers"):
        inbound_event_process(event_pk=event.pk)
    survey = SurveyTrigger.objects.get()
    assert decisions(caplog) == [
        f"survey created: account {mapping.account_id}, event {event.pk}, mapping {mapping.pk}, "
        f"survey {survey.pk}, campaign {mapping.campaign_id}"
    ]


def test_a_quarantine_skip_names_the_reason_but_not_the_person(caplog):
    mapping = IvrMappingFactory(quarantine_days=30)
    inbound_event_process(event_pk=stored_event(mapping.account, csid=601).pk)
    again = stored_event(mapping.account, csid=602)  # the same requester, another close
    with caplog.at_level(logging.INFO, logger="ivr.services.triggers"):
        inbound_event_process(event_pk=again.pk)
    assert decisions(caplog) == [
        f"survey skipped: quarantine; account {mapping.account_id}, event {again.pk}, "
        f"mapping {mapping.pk}"
    ]
    assert EMAIL in SurveyTrigger.objects.get().respondent_email  # (the close had one)
    assert EMAIL not in caplog.text


def test_an_unmapped_queue_is_one_skip_line(caplog):
    mapping = IvrMappingFactory()
    event = stored_event(mapping.account, csid=701, queue={"id": "q-other", "name": "Other"})
    with caplog.at_level(logging.INFO, logger="ivr.services.triggers"):
        inbound_event_process(event_pk=event.pk)
    assert decisions(caplog) == [
        f"survey skipped: no enabled IVR mapping for queue q-other; "
        f"account {mapping.account_id}, event {event.pk}"
    ]

"""The P-GAP pair: made when a matched response and a captured prediction of the same
conversation both exist, whichever came last; the write-back queued after the commit."""

import sys
import types
import uuid
from datetime import UTC, datetime
from unittest import mock

import pytest
from django.db import IntegrityError

from pgap.models import AgentPrediction, PgapPair
from pgap.services import pairs
from pgap.services.pairs import pgap_pair_refresh
from tests.ivr.factories import IvrMappingFactory, SurveyTriggerFactory
from tests.pgap.factories import (
    AgentPredictionFactory,
    PgapSetupFactory,
    SurveyResponseFactory,
)

pytestmark = pytest.mark.django_db

ANSWERED = datetime(2025, 3, 22, 10, 0, tzinfo=UTC)


@pytest.fixture
def mapping(db):
    return IvrMappingFactory(queue_id="q-support")


def matched_response(mapping, csid: int, **fields):
    trigger = SurveyTriggerFactory(mapping=mapping, csid=csid, dedupe_key=f"{csid}:{uuid.uuid4()}")
    values = {"rating": 9, "rating_time": ANSWERED, **fields}
    return SurveyResponseFactory(
        account=mapping.account, csid=csid, trigger=trigger, matched_by="csid", **values
    )


@pytest.fixture
def write_back(monkeypatch):
    """pgap.tasks with a mocked write_back_customer_score (whether or not the module exists)."""
    task = mock.Mock()
    monkeypatch.setitem(
        sys.modules, "pgap.tasks", types.SimpleNamespace(write_back_customer_score=task)
    )
    return task


def queued(task) -> list[int]:
    """The pair ids published to the mocked task (`enqueue` calls apply_async)."""
    return [call.kwargs["args"][0] for call in task.apply_async.call_args_list]


def test_a_prediction_captured_after_the_response_makes_the_pair_on_refresh(mapping):
    # given the customer's 9, then the agent's 6 for the same conversation
    response = matched_response(mapping, 500)
    prediction = AgentPredictionFactory(mapping=mapping, csid=500, score=6, agent_name="Karla")
    # when the capture side refreshes
    pair = pgap_pair_refresh(account_id=mapping.account_id, csid=500)
    # then
    assert pair == PgapPair.objects.get()
    assert (pair.prediction, pair.response, pair.mapping) == (prediction, response, mapping)
    assert (pair.agent_score, pair.customer_score, pair.gap) == (6, 9, -3)
    assert (pair.agent_email, pair.agent_name, pair.queue_id) == (
        "karla@corp.example",
        "Karla",
        "q-support",
    )
    assert pair.answered_at == ANSWERED


@pytest.mark.parametrize(
    "prediction",
    [None, {"status": AgentPrediction.Status.PENDING, "score": None}, {"status": "missing"}],
    ids=["none", "pending", "missing"],
)
def test_no_pair_without_a_captured_prediction(mapping, prediction):
    matched_response(mapping, 501)
    if prediction is not None:
        AgentPredictionFactory(mapping=mapping, csid=501, **prediction)
    assert pgap_pair_refresh(account_id=mapping.account_id, csid=501) is None
    assert not PgapPair.objects.exists()


def test_an_unmatched_response_makes_no_pair(mapping):
    SurveyResponseFactory(account=mapping.account, csid=502, matched_by="")
    AgentPredictionFactory(mapping=mapping, csid=502)
    assert pgap_pair_refresh(account_id=mapping.account_id, csid=502) is None


def test_another_accounts_prediction_makes_no_pair(mapping):
    matched_response(mapping, 503)
    AgentPredictionFactory(csid=503)  # another account's mapping
    assert pgap_pair_refresh(account_id=mapping.account_id, csid=503) is None


def test_the_pair_follows_the_latest_answer_and_goes_when_the_prediction_does(mapping):
    # given a pair
    first = matched_response(mapping, 504, rating=3)
    prediction = AgentPredictionFactory(mapping=mapping, csid=504, score=5)
    pgap_pair_refresh(account_id=mapping.account_id, csid=504)
    # when a later answer to the conversation arrives (a second campaign)
    later = matched_response(mapping, 504, rating=10, rating_time=ANSWERED.replace(hour=11))
    pair = pgap_pair_refresh(account_id=mapping.account_id, csid=504)
    # then
    assert (pair.response, pair.customer_score, pair.gap) == (later, 10, -5)
    assert first.pk != later.pk and PgapPair.objects.count() == 1
    # when the prediction is found invalid after all
    AgentPrediction.objects.filter(pk=prediction.pk).update(status="invalid")
    # then the pair goes
    assert pgap_pair_refresh(account_id=mapping.account_id, csid=504) is None
    assert not PgapPair.objects.exists()


def test_the_write_back_is_queued_after_the_commit_when_the_account_asks(
    mapping, write_back, django_capture_on_commit_callbacks
):
    # given an account writing the customer's score back to a Dixa attribute
    PgapSetupFactory(account=mapping.account, write_back_attribute_id="attr-42")
    matched_response(mapping, 505)
    AgentPredictionFactory(mapping=mapping, csid=505)
    # when
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        pair = pgap_pair_refresh(account_id=mapping.account_id, csid=505)
        assert queued(write_back) == []  # not before the commit
    for callback in callbacks:
        callback()
    # then
    assert queued(write_back) == [pair.pk]


def test_an_unchanged_pair_is_not_written_back_again(
    mapping, write_back, django_capture_on_commit_callbacks
):
    PgapSetupFactory(account=mapping.account, write_back_attribute_id="attr-42")
    matched_response(mapping, 506)
    AgentPredictionFactory(mapping=mapping, csid=506)
    with django_capture_on_commit_callbacks(execute=True):
        pgap_pair_refresh(account_id=mapping.account_id, csid=506)
        pgap_pair_refresh(account_id=mapping.account_id, csid=506)
    assert len(queued(write_back)) == 1


def test_no_write_back_without_an_attribute(
    mapping, write_back, django_capture_on_commit_callbacks
):
    PgapSetupFactory(account=mapping.account, write_back_attribute_id="")
    matched_response(mapping, 507)
    AgentPredictionFactory(mapping=mapping, csid=507)
    with django_capture_on_commit_callbacks(execute=True):
        assert pgap_pair_refresh(account_id=mapping.account_id, csid=507) is not None
    assert queued(write_back) == []


def test_a_missing_task_skips_the_write_back_without_failing(
    mapping, monkeypatch, django_capture_on_commit_callbacks
):
    # given pgap.tasks without the task (not deployed yet)
    monkeypatch.setitem(sys.modules, "pgap.tasks", types.ModuleType("pgap.tasks"))
    PgapSetupFactory(account=mapping.account, write_back_attribute_id="attr-42")
    matched_response(mapping, 508)
    AgentPredictionFactory(mapping=mapping, csid=508)
    # when
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        pair = pgap_pair_refresh(account_id=mapping.account_id, csid=508)
    # then the pair is made, nothing queued
    assert pair is not None and callbacks == []


def test_a_changed_answer_updates_the_stored_pair_and_is_written_back_again(
    mapping, write_back, django_capture_on_commit_callbacks
):
    # given a pair written back with the customer's 3
    PgapSetupFactory(account=mapping.account, write_back_attribute_id="attr-42")
    matched_response(mapping, 510, rating=3)
    AgentPredictionFactory(mapping=mapping, csid=510, score=5)
    with django_capture_on_commit_callbacks(execute=True):
        first = pgap_pair_refresh(account_id=mapping.account_id, csid=510)
    # when a later answer of 10 arrives
    later = matched_response(mapping, 510, rating=10, rating_time=ANSWERED.replace(hour=11))
    with django_capture_on_commit_callbacks(execute=True):
        pgap_pair_refresh(account_id=mapping.account_id, csid=510)
    # then the stored pair holds it, and the new score is written back
    stored = PgapPair.objects.get()
    assert stored.pk == first.pk
    assert (stored.response, stored.customer_score, stored.gap) == (later, 10, -5)
    assert queued(write_back) == [first.pk, first.pk]


def test_a_pair_made_by_a_concurrent_refresh_is_updated_not_duplicated(mapping):
    # given a pair, made by another refresh after this one looked for it
    matched_response(mapping, 511, rating=3)
    AgentPredictionFactory(mapping=mapping, csid=511, score=5)
    made = pgap_pair_refresh(account_id=mapping.account_id, csid=511)
    matched_response(mapping, 511, rating=8, rating_time=ANSWERED.replace(hour=11))
    looks = []

    def locked_late(account_id, csid):
        looks.append(csid)
        return None if len(looks) == 1 else real_locked(account_id, csid)

    real_locked = pairs._locked
    # when this refresh goes on to make it
    with mock.patch("pgap.services.pairs._locked", side_effect=locked_late):
        pair = pgap_pair_refresh(account_id=mapping.account_id, csid=511)
    # then it updates the other one's pair
    assert looks == [511, 511]
    assert pair.pk == made.pk
    assert PgapPair.objects.get().customer_score == 8


def test_a_pair_that_cannot_be_made_nor_found_is_an_error(mapping):
    # given a pair that the refresh can neither make (it exists) nor find (mocked)
    matched_response(mapping, 512)
    AgentPredictionFactory(mapping=mapping, csid=512)
    pgap_pair_refresh(account_id=mapping.account_id, csid=512)
    with mock.patch("pgap.services.pairs._locked", return_value=None):
        with pytest.raises(IntegrityError):
            pgap_pair_refresh(account_id=mapping.account_id, csid=512)


def test_the_pair_takes_the_mapping_of_the_prediction_else_of_the_survey(mapping):
    # given a survey of one mapping, a prediction of another, and one without a mapping
    other = IvrMappingFactory(account=mapping.account, queue_id="q-other", campaign_id=7233)
    matched_response(mapping, 513)
    AgentPredictionFactory(mapping=other, csid=513)
    matched_response(mapping, 514)
    AgentPredictionFactory(mapping=None, account=mapping.account, csid=514, queue_id="q-x")
    # then
    assert pgap_pair_refresh(account_id=mapping.account_id, csid=513).mapping == other
    assert pgap_pair_refresh(account_id=mapping.account_id, csid=514).mapping == mapping


def test_an_answer_without_a_rating_time_counts_from_its_arrival(mapping):
    response = matched_response(mapping, 515, rating_time=None)
    AgentPredictionFactory(mapping=mapping, csid=515)
    pair = pgap_pair_refresh(account_id=mapping.account_id, csid=515)
    assert pair.answered_at == response.received_at is not None


def test_a_broker_outage_does_not_fail_the_refresh(
    mapping, write_back, django_capture_on_commit_callbacks, caplog
):
    # given the broker refuses the write-back task
    PgapSetupFactory(account=mapping.account, write_back_attribute_id="attr-42")
    write_back.apply_async.side_effect = OSError("broker down")
    matched_response(mapping, 516)
    AgentPredictionFactory(mapping=mapping, csid=516)
    # when the pair is made and committed, then nothing is raised
    with django_capture_on_commit_callbacks(execute=True):
        pair = pgap_pair_refresh(account_id=mapping.account_id, csid=516)
    assert queued(write_back) == [pair.pk]
    # and the refusal is logged (the pair stays made)
    assert "failed (broker down)" in caplog.text
    assert PgapPair.objects.filter(pk=pair.pk).exists()

"""The P-GAP pair: made when a matched response and a captured prediction of the same
conversation both exist, whichever came last; the write-back queued after the commit."""

import sys
import types
import uuid
from datetime import UTC, datetime
from unittest import mock

import pytest

from pgap.models import AgentPrediction, PgapPair
from pgap.services.pairs import pgap_pair_refresh
from tests.ivr.factories import IvrMappingFactory, SurveyTriggerFactory
from tests.pgap.factories import AgentPredictionFactory, PgapSetupFactory, SurveyResponseFactory

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
        write_back.delay.assert_not_called()  # not before the commit
    for callback in callbacks:
        callback()
    # then
    write_back.delay.assert_called_once_with(pair.pk)


def test_an_unchanged_pair_is_not_written_back_again(
    mapping, write_back, django_capture_on_commit_callbacks
):
    PgapSetupFactory(account=mapping.account, write_back_attribute_id="attr-42")
    matched_response(mapping, 506)
    AgentPredictionFactory(mapping=mapping, csid=506)
    with django_capture_on_commit_callbacks(execute=True):
        pgap_pair_refresh(account_id=mapping.account_id, csid=506)
        pgap_pair_refresh(account_id=mapping.account_id, csid=506)
    assert write_back.delay.call_count == 1


def test_no_write_back_without_an_attribute(
    mapping, write_back, django_capture_on_commit_callbacks
):
    PgapSetupFactory(account=mapping.account, write_back_attribute_id="")
    matched_response(mapping, 507)
    AgentPredictionFactory(mapping=mapping, csid=507)
    with django_capture_on_commit_callbacks(execute=True):
        assert pgap_pair_refresh(account_id=mapping.account_id, csid=507) is not None
    write_back.delay.assert_not_called()


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

"""Capturing the agent's score: from ConversationCustomAttributeUpdated events (no Dixa
call), and at close from Dixa's API through the P-GAP outbox, with its retries."""

import json
import threading
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.utils import timezone

from ivr.models import SurveyTrigger
from pgap.models import AgentPrediction
from pgap.services.capture import PREDICTIONS, prediction_capture, predictions_read_again
from pgap.services.write_back import WriteBackRetry, customer_score_write_back
from pgap.tasks import write_back_customer_score
from tests.fakes.dixa import ABSENT, AGENT_ID, CUSTOMER_SCORE_ATTRIBUTE_ID, option_id
from tests.ivr.factories import QUEUE_ID, IvrMappingFactory
from tests.pgap.dixa_events import CSID, attribute_update, close, pgap_mapping, pgap_reason, process
from tests.pgap.factories import AgentPredictionFactory, PgapPairFactory, PgapSetupFactory
from tests.support.processes import wait_until

pytestmark = pytest.mark.django_db
NOW = "2026-11-22 12:00:00Z"
Status = AgentPrediction.Status


@pytest.fixture(autouse=True)
def _quiet(settings):
    settings.REDIS_URL = ""  # the limiter lets everything through; tested on its own
    with mock.patch("ivr.tasks.deliver_surveys.apply_async"):
        yield


@pytest.fixture
def captures():
    with mock.patch("pgap.tasks.capture_predictions.apply_async") as apply_async:
        yield apply_async


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def prediction() -> AgentPrediction:
    return AgentPrediction.objects.get()


def closed_and_pending(mapping) -> AgentPrediction:
    process(close(mapping.account))
    return prediction()


# --- the close ----------------------------------------------------------------------------


def test_a_close_in_a_pgap_mapping_queues_a_read_from_dixa(
    captures, clock, django_capture_on_commit_callbacks
):
    # given P-GAP on for the queue's mapping, and no attribute event
    mapping = pgap_mapping()
    # when the close is processed
    with django_capture_on_commit_callbacks(execute=True):
        event = process(close(mapping.account))
    # then the prediction is an outbox row, due now and published to the dixa queue
    row = prediction()
    assert (row.status, row.source, row.score) == ("pending", "api", None)
    assert (row.csid, row.queue_id, row.mapping, row.inbound_event) == (
        CSID,
        QUEUE_ID,
        mapping,
        event,
    )
    assert (row.agent_id, row.agent_email, row.agent_name) == (
        AGENT_ID,
        "karla@corp.example",
        "Karla",
    )
    assert row.next_attempt_at == timezone.now() and row.closed_at is not None
    assert captures.call_args.kwargs["args"] == ([row.pk],)
    assert pgap_reason(event) == "handled: the agent's score is read from Dixa"


def test_a_close_outside_pgap_records_nothing():
    # given P-GAP on for another mapping only
    mapping = IvrMappingFactory()
    other = IvrMappingFactory(account=mapping.account, queue_id="q-other", name="Other")
    PgapSetupFactory(account=mapping.account).mappings.set([other])
    # when a close of the first mapping's queue is processed
    event = process(close(mapping.account))
    # then no prediction, and the reason says why
    assert not AgentPrediction.objects.exists()
    assert pgap_reason(event) == f"skipped: queue {QUEUE_ID} is not in a P-GAP mapping"


def test_without_a_setup_or_with_pgap_off_nothing_is_recorded():
    mapping = IvrMappingFactory()
    assert pgap_reason(process(close(mapping.account))).startswith("skipped: P-GAP is not set up")
    PgapSetupFactory(account=mapping.account, enabled=False)
    process(close(mapping.account, csid=CSID + 1))
    assert not AgentPrediction.objects.exists()


def test_a_close_that_carries_the_attribute_is_captured_without_dixa(captures):
    mapping = pgap_mapping()
    body_attributes = [{"id": "x", "identifier": "p_gap", "value": ["6"]}]
    process(close(mapping.account, custom_attributes=body_attributes))
    row = prediction()
    assert (row.status, row.score, row.source) == ("captured", 6, "event")
    assert not captures.called


# --- the attribute event ----------------------------------------------------------------


def test_an_attribute_event_before_the_close_is_used_at_close_without_dixa(captures, fake_dixa):
    # given the agent's p_gap arrived by webhook
    mapping = pgap_mapping()
    event = process(attribute_update(mapping.account, ["8"]))
    assert pgap_reason(event) == "handled: the agent's score is 8"
    # when the conversation closes
    closing = process(close(mapping.account))
    # then the score stands, completed with the close, and Dixa was not asked
    row = prediction()
    assert (row.status, row.score, row.source) == ("captured", 8, "event")
    assert row.closed_at is not None and row.mapping == mapping
    assert pgap_reason(closing) == "handled: from the attribute event: the agent's score is 8"
    assert not captures.called and not fake_dixa.recorded()


def test_an_attribute_event_after_the_close_replaces_the_pending_read(captures, fake_dixa):
    mapping = pgap_mapping()
    row = closed_and_pending(mapping)
    process(attribute_update(mapping.account, "9"))
    row.refresh_from_db()
    assert (row.status, row.score, row.source) == ("captured", 9, "event")
    # the read that was queued finds nothing to do
    assert prediction_capture(prediction_id=row.pk) is None
    assert not fake_dixa.recorded()


def test_an_older_attribute_event_does_not_replace_a_newer_one():
    mapping = pgap_mapping()
    now = timezone.now()
    process(attribute_update(mapping.account, ["4"], at=now))
    late = process(attribute_update(mapping.account, ["2"], at=now - timedelta(minutes=5)))
    assert prediction().score == 4
    assert pgap_reason(late).startswith("skipped: a newer value")


def test_an_attribute_event_of_another_attribute_is_skipped():
    mapping = pgap_mapping()
    event = process(attribute_update(mapping.account, ["x"], identifier="contact_reason"))
    assert pgap_reason(event) == "skipped: the update is not about p_gap"
    assert not AgentPrediction.objects.exists()


def test_an_invalid_event_value_is_recorded_and_dixa_has_the_last_word_at_close(captures):
    mapping = pgap_mapping()
    process(attribute_update(mapping.account, ["12"]))
    row = prediction()
    assert (row.status, row.score) == ("invalid", None)
    assert row.reason == '12 is outside 0–10 (raw value ["12"])'
    process(close(mapping.account))
    row.refresh_from_db()
    assert (row.status, row.source) == ("pending", "api")


# --- the read from Dixa -------------------------------------------------------------------


@pytest.mark.parametrize(
    "dixa_value",
    [["7"], "7", 7, ["p_gap", "7"], [option_id("7")], option_id("7")],
    ids=["select-list", "string", "number", "path", "option-id-list", "option-id"],
)
def test_the_score_is_read_from_dixa_in_every_shape_a_select_takes(
    captures, fake_dixa, clock, dixa_value
):
    # given a close read from Dixa, whose attribute definition was checked (option ids)
    mapping = pgap_mapping()
    from pgap.services.setup import pgap_setup_check

    pgap_setup_check(setup=mapping.account.pgap_setup)
    fake_dixa.add_conversation(CSID, p_gap=dixa_value)
    row = closed_and_pending(mapping)
    # when the worker reads it
    status = prediction_capture(prediction_id=row.pk)
    # then the score is 7, from the API, with the token in Authorization
    row.refresh_from_db()
    assert status == "captured"
    assert (row.status, row.score, row.source, row.reason) == ("captured", 7, "api", "")
    assert row.captured_at == timezone.now() and row.attempt_count == 1
    request = fake_dixa.recorded(f"/v1/conversations/{CSID}")[0]
    assert request.headers["authorization"] == "dixa-test-token"


@pytest.mark.parametrize(
    "dixa_value, status, reason",
    [
        (["11"], "invalid", '11 is outside 0–10 (raw value ["11"])'),
        (["-1"], "invalid", 'not a score from 0 to 10: ["-1"]'),
        ("seven", "invalid", 'not a score from 0 to 10: "seven"'),
        ([True], "invalid", "not a score from 0 to 10: [true]"),
        (7.5, "invalid", "not a score from 0 to 10: 7.5"),
        ([], "missing", "the attribute has no value"),
        (None, "missing", "the attribute has no value"),
        (ABSENT, "missing", "Dixa's conversation has no p_gap attribute"),
    ],
)
def test_a_missing_or_invalid_value_is_recorded_with_its_reason(
    captures, fake_dixa, dixa_value, status, reason
):
    mapping = pgap_mapping()
    fake_dixa.add_conversation(CSID, p_gap=dixa_value)
    row = closed_and_pending(mapping)
    prediction_capture(prediction_id=row.pk)
    row.refresh_from_db()
    assert (row.status, row.score, row.reason) == (status, None, reason)


def test_429_honours_retry_after_and_is_not_lost(captures, fake_dixa, clock):
    mapping = pgap_mapping()
    fake_dixa.add_conversation(CSID, p_gap=["5"])
    fake_dixa.push({"status": 429, "retry_after": "7"})
    row = closed_and_pending(mapping)
    assert prediction_capture(prediction_id=row.pk) == "pending"
    row.refresh_from_db()
    assert row.next_attempt_at == timezone.now() + timedelta(seconds=7)
    assert row.reason == "Dixa: try 1 failed: HTTP 429" and row.attempt_count == 1
    # the retry, once due, reads the score
    clock.shift(timedelta(seconds=7))
    assert prediction_capture(prediction_id=row.pk) == "captured"


def test_5xx_and_no_answer_are_retried_a_minute_apart_then_fail(captures, fake_dixa, clock):
    # given Dixa fails five times (a dropped connection, then 503s)
    mapping = pgap_mapping()
    fake_dixa.push({"drop": True}, *[{"status": 503}] * 4)
    row = closed_and_pending(mapping)
    # when the worker tries each time the row falls due
    for attempt in range(1, 5):
        assert prediction_capture(prediction_id=row.pk) == "pending"
        row.refresh_from_db()
        assert row.next_attempt_at == timezone.now() + timedelta(seconds=60)
        assert row.attempt_count == attempt
        assert prediction_capture(prediction_id=row.pk) is None  # not due yet
        clock.shift(timedelta(seconds=60))
    # then the fifth failure is final, with the reason
    assert prediction_capture(prediction_id=row.pk) == "failed"
    row.refresh_from_db()
    assert row.reason == "Dixa: gave up after 5 tries; last: HTTP 503"


@pytest.mark.parametrize(
    "token, known, reason",
    [
        ("revoked", True, "Dixa refused the token (HTTP 401)"),
        ("dixa-test-token", False, f"Dixa has no conversation {CSID} (HTTP 404)"),
    ],
)
def test_401_and_404_are_final_at_once(captures, fake_dixa, token, known, reason):
    mapping = pgap_mapping(dixa_api_token=token)
    if known:
        fake_dixa.add_conversation(CSID)
    row = closed_and_pending(mapping)
    assert prediction_capture(prediction_id=row.pk) == "failed"
    row.refresh_from_db()
    assert (row.reason, row.attempt_count) == (reason, 1)


def test_without_any_token_the_read_fails_with_the_reason(captures):
    mapping = pgap_mapping(dixa_api_token="")
    type(mapping).objects.filter(pk=mapping.pk).update(dixa_api_token="")
    row = closed_and_pending(mapping)
    assert prediction_capture(prediction_id=row.pk) == "failed"
    row.refresh_from_db()
    assert row.reason.startswith("no Dixa API token")


def test_the_mappings_token_is_used_when_the_setup_has_none(captures, fake_dixa):
    mapping = pgap_mapping(dixa_api_token="")
    fake_dixa.add_conversation(CSID)
    row = closed_and_pending(mapping)
    assert prediction_capture(prediction_id=row.pk) == "captured"


def test_each_read_waits_for_a_slot_of_dixas_rate_limit_per_token(captures, fake_dixa, settings):
    mapping = pgap_mapping()
    fake_dixa.add_conversation(CSID)
    row = closed_and_pending(mapping)
    with mock.patch("integrations.ratelimit.wait_for_slot", return_value=0.0) as slot:
        prediction_capture(prediction_id=row.pk)
    slot.assert_called_once_with("dixa", "dixa-test-token", limit=settings.DIXA_RATE_LIMIT)


def test_a_reprocessed_close_does_not_start_the_read_over(captures, fake_dixa):
    mapping = pgap_mapping()
    fake_dixa.add_conversation(CSID, p_gap=["3"])
    event = close(mapping.account)
    process(event)
    prediction_capture(prediction_id=prediction().pk)
    from integrations.services.processing import inbound_events_reprocess

    inbound_events_reprocess(queryset=type(event).objects.filter(pk=event.pk))
    event = process(event)
    row = prediction()
    assert (row.status, row.score, row.attempt_count) == ("captured", 3, 1)
    assert pgap_reason(event) == "handled: already read from Dixa: the agent's score is 3"


def test_a_lost_worker_is_reclaimed_and_read_again(captures, fake_dixa, clock, settings):
    mapping = pgap_mapping()
    fake_dixa.add_conversation(CSID)
    row = closed_and_pending(mapping)
    assert PREDICTIONS.claim(row.pk)  # a worker took it and died
    clock.shift(timedelta(seconds=settings.PGAP_CLAIM_TIMEOUT_SECONDS + 1))
    assert PREDICTIONS.reclaim() == 1
    assert prediction_capture(prediction_id=row.pk) == "captured"


def test_read_again_gives_failed_reads_fresh_tries(captures, fake_dixa):
    mapping = pgap_mapping(dixa_api_token="revoked")
    fake_dixa.add_conversation(CSID)
    row = closed_and_pending(mapping)
    prediction_capture(prediction_id=row.pk)
    mapping.account.pgap_setup.dixa_api_token = "dixa-test-token"
    mapping.account.pgap_setup.save()
    assert predictions_read_again(queryset=AgentPrediction.objects.all(), by="ann") == 1
    assert prediction_capture(prediction_id=row.pk) == "captured"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_read_again_leaves_the_score_a_capture_under_way_records(captures):
    # given a failed read whose row a capture holds (locked) right now
    row = AgentPredictionFactory(status=Status.FAILED, score=None)
    capture = connections.create_connection(DEFAULT_DB_ALIAS)
    capture.set_autocommit(False)
    with capture.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pgap_agentprediction WHERE id = %s FOR UPDATE", [row.pk])
    counted = []

    def read_again():
        try:
            again = AgentPrediction.objects.filter(pk=row.pk)
            counted.append(predictions_read_again(queryset=again, by="ann"))
        finally:
            connections.close_all()

    # when it is read again meanwhile, and the capture then records its score
    reader = threading.Thread(target=read_again)
    reader.start()
    wait_until(waiting_for_a_lock, 10, "read again to wait for the capture")
    with capture.cursor() as cursor:
        cursor.execute(
            "UPDATE pgap_agentprediction SET status = 'captured', score = 8 WHERE id = %s",
            [row.pk],
        )
    capture.commit()
    capture.close()
    reader.join(timeout=10)
    # then reading again changed nothing: the score stands
    assert counted == [0]
    row.refresh_from_db()
    assert (row.status, row.score) == (Status.CAPTURED, 8)


def waiting_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE %s",
            ["%pgap_agentprediction%"],
        )
        return cursor.fetchone()[0] > 0


def test_a_capture_wakes_the_survey_waiting_for_it(
    captures, fake_dixa, clock, django_capture_on_commit_callbacks
):
    # given the close's survey waits for the score
    mapping = pgap_mapping()
    fake_dixa.add_conversation(CSID)
    row = closed_and_pending(mapping)
    trigger = SurveyTrigger.objects.get(csid=CSID)
    SurveyTrigger.objects.filter(pk=trigger.pk).update(
        reason="waiting for the agent's P-GAP score (until 12:01:00 UTC)",
        next_attempt_at=timezone.now() + timedelta(seconds=60),
    )
    # when the score is read
    with (
        mock.patch("ivr.tasks.deliver_surveys.apply_async") as surveys,
        django_capture_on_commit_callbacks(execute=True),
    ):
        prediction_capture(prediction_id=row.pk)
    # then the survey is due now and published
    trigger.refresh_from_db()
    assert trigger.next_attempt_at == timezone.now()
    assert surveys.call_args.kwargs["args"] == ([trigger.pk],)


# --- the customer's score back to the agent ---------------------------------------------


def write_back_pair(fake_dixa, **setup):
    pair = PgapPairFactory(response__rating=9)
    PgapSetupFactory(account=pair.account, **setup)
    fake_dixa.add_conversation(pair.csid)
    return pair


def test_the_customers_score_is_written_to_the_chosen_attribute(fake_dixa):
    pair = write_back_pair(
        fake_dixa,
        write_back_attribute_id=CUSTOMER_SCORE_ATTRIBUTE_ID,
        write_back_input_type="Text",
    )
    result = customer_score_write_back(pair_id=pair.pk)
    assert result.written
    assert fake_dixa.patched == [(pair.csid, {CUSTOMER_SCORE_ATTRIBUTE_ID: "9"})]
    request = fake_dixa.recorded(f"/v1/conversations/{pair.csid}/custom-attributes")[0]
    assert request.method == "PATCH" and request.headers["authorization"] == "dixa-test-token"


def test_a_select_attribute_gets_a_list_and_an_unknown_type_is_looked_up(fake_dixa):
    # given the write-back attribute is the P-GAP-like Select, its type not yet known
    fake_dixa.definitions[1]["inputDefinition"] = {
        "_type": "Select",
        "options": [{"id": option_id(str(n)), "label": str(n), "value": str(n)} for n in range(11)],
    }
    pair = write_back_pair(fake_dixa, write_back_attribute_id=CUSTOMER_SCORE_ATTRIBUTE_ID)
    assert customer_score_write_back(pair_id=pair.pk).written
    assert fake_dixa.patched == [(pair.csid, {CUSTOMER_SCORE_ATTRIBUTE_ID: ["9"]})]
    pair.account.pgap_setup.refresh_from_db()
    assert pair.account.pgap_setup.write_back_input_type == "Select"


def test_without_a_write_back_attribute_nothing_is_written(fake_dixa):
    pair = write_back_pair(fake_dixa)
    result = customer_score_write_back(pair_id=pair.pk)
    assert not result.written and not fake_dixa.recorded()


def test_a_busy_dixa_is_retried_by_the_task_and_a_refusal_is_final(fake_dixa):
    pair = write_back_pair(
        fake_dixa,
        write_back_attribute_id=CUSTOMER_SCORE_ATTRIBUTE_ID,
        write_back_input_type="Text",
    )
    fake_dixa.push({"status": 503})
    with pytest.raises(WriteBackRetry):
        customer_score_write_back(pair_id=pair.pk)
    # the task tries again (eagerly here): 503, 429, then it is written
    fake_dixa.push({"status": 503}, {"status": 429, "retry_after": "1"})
    result = write_back_customer_score.apply(args=[pair.pk])
    assert result.get() == f"wrote '9' to conversation {pair.csid}"
    assert len(fake_dixa.recorded("/v1/conversations/")) == 4
    # a refusal is not retried
    fake_dixa.push({"status": 404})
    assert write_back_customer_score.apply(args=[pair.pk]).get() == "Dixa refused it (HTTP 404)"


def test_the_write_back_task_gives_up_after_five_tries(fake_dixa):
    pair = write_back_pair(
        fake_dixa,
        write_back_attribute_id=CUSTOMER_SCORE_ATTRIBUTE_ID,
        write_back_input_type="Text",
    )
    fake_dixa.push(*[{"status": 502}] * 6)
    result = write_back_customer_score.apply(args=[pair.pk])
    with pytest.raises(WriteBackRetry):
        result.get()
    assert len(fake_dixa.recorded("/v1/conversations/")) == 5
    assert json.loads(json.dumps(fake_dixa.patched)) == []


def test_an_attribute_event_of_a_queue_outside_pgap_is_skipped_one_without_queue_kept():
    mapping = pgap_mapping()
    other = process(attribute_update(mapping.account, ["5"], queue={"id": "q-x", "name": "X"}))
    assert pgap_reason(other) == "skipped: queue q-x is not in P-GAP"
    process(attribute_update(mapping.account, ["5"], queue=None))
    assert prediction().score == 5 and prediction().closed_at is None


def test_a_capture_after_the_customers_answer_makes_the_pair(captures, fake_dixa):
    # given the customer answered 9 before the agent's score was read
    from pgap.models import PgapPair
    from tests.pgap.factories import SurveyResponseFactory

    mapping = pgap_mapping()
    row = closed_and_pending(mapping)
    SurveyResponseFactory(account=mapping.account, csid=CSID, rating=9, matched_by="csid")
    fake_dixa.add_conversation(CSID, p_gap=["6"])
    # when the score is read
    prediction_capture(prediction_id=row.pk)
    # then the pair is there: agent 6, customer 9
    pair = PgapPair.objects.get()
    assert (pair.agent_score, pair.customer_score, pair.gap) == (6, 9, -3)
    assert pair.agent_email == "karla@corp.example"

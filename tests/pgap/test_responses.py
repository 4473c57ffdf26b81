"""nps.today's new-response webhook: stored once, the latest RatingTime winning, matched to
our survey within the hook's account, unmatched ones kept."""

import json
import threading
import uuid

import pytest
from django.db import connection
from django.urls import reverse

from pgap.models import PgapPair, SurveyResponse
from pgap.services.hooks import response_hook_create
from pgap.services.responses import (
    MAX_BODY_BYTES,
    survey_response_parse,
    survey_response_store,
)
from tests.ivr.factories import IvrMappingFactory, SurveyTriggerFactory
from tests.pgap.factories import AgentPredictionFactory

pytestmark = pytest.mark.django_db

REQUESTER_ID = "cab6b2af-5659-4082-98c2-3e056c8d4e3d"  # the factories' respondent externalId


@pytest.fixture
def hook(account):
    return response_hook_create(account=account)


@pytest.fixture
def mapping(account):
    return IvrMappingFactory(account=account)


@pytest.fixture
def url(hook):
    return reverse("npstoday-responses", kwargs={"secret": hook.secret})


def payload(trigger=None, **fields) -> dict:
    """A NewResponse body as nps.today sends it for `trigger`'s member."""
    body = {
        "Id": 4711,
        "Rating": 9,
        "RatingTime": "2025-03-22T10:00:00Z",
        "UserComment": "Quick and kind",
        "CampaignId": 7232,
        "Respondent": {
            "Id": 1,
            "ExternalId": REQUESTER_ID,
            "EmailAddress": "jane@example.com",
            "PhoneNumber": "+4520304050",
            "FirstName": "Jane Jensen",
        },
        "Custom": None,
    }
    if trigger is not None:
        body.update(CampaignId=trigger.campaign_id, Custom=trigger.payload["custom"])
    body.update(fields)
    return body


def post(client, url, body):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(url, data=data, content_type="application/json")


def test_a_response_to_our_survey_is_matched_by_the_conversation_id_in_custom(
    client, url, account, mapping
):
    # given our survey of conversation 100 in campaign 7232
    trigger = SurveyTriggerFactory(mapping=mapping, csid=100)
    # when nps.today posts the customer's answer
    response = post(client, url, payload(trigger, AgentRating=6))
    # then
    assert response.status_code == 202
    assert response.json() == {"status": "accepted", "id": "4711", "matched_by": "csid"}
    stored = SurveyResponse.objects.get()
    assert (stored.account, stored.trigger, stored.csid) == (account, trigger, 100)
    assert (stored.rating, stored.agent_rating, stored.comment) == (9, 6, "Quick and kind")
    assert stored.rating_time.isoformat() == "2025-03-22T10:00:00+00:00"
    assert (stored.respondent_email, stored.respondent_external_id) == (
        "jane@example.com",
        REQUESTER_ID,
    )
    assert stored.payload == payload(trigger, AgentRating=6)


def test_custom_as_an_object_matches_too(client, url, account, mapping):
    trigger = SurveyTriggerFactory(mapping=mapping, csid=101)
    response = post(client, url, payload(trigger, Custom={"dixaConversationId": "101"}))
    assert response.json()["matched_by"] == "csid"
    assert SurveyResponse.objects.get().trigger == trigger


def test_a_guid_in_the_body_wins_over_custom(client, url, account, mapping):
    # given two surveys, the body naming one by guid and the other in custom
    by_guid = SurveyTriggerFactory(mapping=mapping, csid=102)
    by_custom = SurveyTriggerFactory(mapping=mapping, csid=103)
    # when
    post(client, url, payload(by_custom, Guid=str(by_guid.guid)))
    # then
    stored = SurveyResponse.objects.get()
    assert (stored.matched_by, stored.trigger, stored.csid) == ("guid", by_guid, 102)


def test_the_members_external_id_matches_when_custom_is_missing(client, url, account, mapping):
    trigger = SurveyTriggerFactory(mapping=mapping, csid=104)
    respondent = {"ExternalId": "104", "EmailAddress": "jane@example.com"}
    post(client, url, payload(Custom=None, Respondent=respondent))
    stored = SurveyResponse.objects.get()
    assert (stored.matched_by, stored.trigger) == ("external_id", trigger)


def test_the_respondents_external_id_matches_their_latest_survey_in_the_campaign(
    client, url, account, mapping
):
    # given two surveys of the same customer in the campaign, and one in another campaign
    SurveyTriggerFactory(mapping=mapping, csid=105)
    latest = SurveyTriggerFactory(mapping=mapping, csid=106)
    SurveyTriggerFactory(mapping=IvrMappingFactory(account=account, campaign_id=7300), csid=107)
    # when the response names only the respondent
    post(client, url, payload(Custom="not json"))
    # then
    stored = SurveyResponse.objects.get()
    assert (stored.matched_by, stored.trigger, stored.csid) == ("external_id", latest, 106)


@pytest.mark.parametrize(
    "fields",
    [
        {"CampaignId": 999_999, "Custom": json.dumps({"dixaConversationId": 424242})},
        {"Custom": json.dumps({"dixaConversationId": 424242}), "Respondent": None},
        {"Guid": str(uuid.uuid4()), "Respondent": {"ExternalId": "someone else"}},
    ],
    ids=["unknown campaign", "unknown conversation", "unknown guid"],
)
def test_a_response_we_cannot_match_is_kept_and_accepted(client, url, account, mapping, fields):
    # given a survey of another conversation
    SurveyTriggerFactory(mapping=mapping, csid=108)
    # when
    response = post(client, url, payload(**fields))
    # then
    assert response.status_code == 202
    assert response.json()["matched_by"] == ""
    stored = SurveyResponse.objects.get()
    assert (stored.matched_by, stored.trigger) == ("", None)


def test_the_same_response_twice_is_stored_once(client, url, account, mapping):
    trigger = SurveyTriggerFactory(mapping=mapping, csid=109)
    first = post(client, url, payload(trigger))
    second = post(client, url, payload(trigger))
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json() == {"status": "duplicate", "id": "4711", "matched_by": "csid"}
    assert SurveyResponse.objects.count() == 1


def test_a_later_rating_time_replaces_the_stored_answer(client, url, account, mapping):
    # given
    trigger = SurveyTriggerFactory(mapping=mapping, csid=110)
    post(client, url, payload(trigger, Rating=4, RatingTime="2025-03-22T10:00:00Z"))
    # when the customer changes their mind
    response = post(client, url, payload(trigger, Rating=8, RatingTime="2025-03-22T10:05:00Z"))
    # then
    assert (response.status_code, response.json()["status"]) == (200, "updated")
    stored = SurveyResponse.objects.get()
    assert (stored.rating, stored.rating_time.minute) == (8, 5)


@pytest.mark.parametrize("older", ["2025-03-22T09:59:59Z", None, "not a time"])
def test_a_replay_out_of_order_changes_nothing(client, url, account, mapping, older):
    # given the later answer stored first
    trigger = SurveyTriggerFactory(mapping=mapping, csid=111)
    post(client, url, payload(trigger, Rating=8, RatingTime="2025-03-22T10:00:00Z"))
    # when the earlier one arrives
    response = post(client, url, payload(trigger, Rating=4, RatingTime=older))
    # then
    assert (response.status_code, response.json()["status"]) == (200, "duplicate")
    assert SurveyResponse.objects.get().rating == 8


def test_a_time_without_an_offset_is_read_as_utc(client, url):
    post(client, url, payload(RatingTime="2025-03-22T10:00:00.123"))
    assert (
        SurveyResponse.objects.get().rating_time.isoformat() == "2025-03-22T10:00:00.123000+00:00"
    )


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"", "body is empty"),
        (b"{nope", "body is not valid JSON"),
        (b"[1, 2]", "body must be a JSON object, not list"),
        ({"Rating": 9}, "Id is missing"),
        ({"Id": True, "Rating": 9}, "Id is missing"),
        ({"Id": "", "Rating": 9}, "Id is missing"),
        ({"Id": "x" * 101, "Rating": 9}, "Id is longer than 100 characters"),
        ({"Id": 1}, "Rating is missing"),
        ({"Id": 1, "Rating": 11}, "Rating must be a whole number from 0 to 10"),
        ({"Id": 1, "Rating": -1}, "Rating must be a whole number from 0 to 10"),
        ({"Id": 1, "Rating": 7.5}, "Rating must be a whole number from 0 to 10"),
        ({"Id": 1, "Rating": "nine"}, "Rating must be a whole number from 0 to 10"),
        ({"Id": 1, "Rating": True}, "Rating must be a whole number from 0 to 10"),
        (b'{"Id": 1, "Rating": NaN}', "Rating must be a whole number from 0 to 10"),
        (b'{"Id": "a\\u0000", "Rating": 1}', "Id contains a NUL character"),
    ],
)
def test_a_malformed_body_is_400_with_its_reason(client, url, body, reason):
    response = post(client, url, body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_payload"
    assert response.json()["detail"].startswith(reason)
    assert not SurveyResponse.objects.exists()


def test_a_body_over_256_kib_is_413(client, url):
    body = json.dumps(payload(UserComment="x" * MAX_BODY_BYTES))
    response = post(client, url, body)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert not SurveyResponse.objects.exists()


def test_a_body_of_exactly_256_kib_is_taken(client, url):
    short = json.dumps(payload(UserComment=""))
    body = json.dumps(payload(UserComment="x" * (MAX_BODY_BYTES - len(short))))
    assert len(body.encode()) == MAX_BODY_BYTES
    assert post(client, url, body).status_code == 202


@pytest.mark.postgres
def test_text_postgresql_cannot_hold_is_stored_without_it(client, url):
    # NUL and a lone surrogate, in the comment and deeper in the body (jsonb refuses both)
    body = b'{"Id": 5, "Rating": 3, "UserComment": "a\\u0000b\\ud800c", "X": {"k\\u0000": NaN}}'
    response = post(client, url, body)
    assert response.status_code == 202
    stored = SurveyResponse.objects.get()
    assert stored.comment == "abc"
    assert stored.payload["X"] == {"k": None}


def test_camel_case_fields_are_read_too():
    parsed = survey_response_parse(
        json.dumps(
            {"id": "r-1", "rating": "7", "respondent": {"externalId": 42}, "campaignId": "7232"}
        ).encode()
    )
    assert (parsed.response_id, parsed.rating, parsed.external_id, parsed.campaign_id) == (
        "r-1",
        7,
        "42",
        7232,
    )


def test_a_hook_stores_and_matches_only_within_its_own_account(client, url, account):
    # given another tenant's survey of the same conversation number, and its own hook
    theirs = SurveyTriggerFactory(csid=112)
    their_url = reverse(
        "npstoday-responses",
        kwargs={"secret": response_hook_create(account=theirs.account).secret},
    )
    # when our hook receives a response naming their guid and conversation
    ours = post(client, url, payload(theirs, Guid=str(theirs.guid)))
    # and theirs receives the same response id
    their_answer = post(client, their_url, payload(theirs))
    # then ours is unmatched, in our account; theirs is matched in theirs
    assert ours.json()["matched_by"] == ""
    assert their_answer.status_code == 202
    mine = SurveyResponse.objects.get(account=account)
    assert mine.trigger is None and mine.csid is None
    assert SurveyResponse.objects.get(account=theirs.account).trigger == theirs


def test_a_matched_response_and_a_captured_prediction_make_a_pair(client, url, account, mapping):
    # given our survey and the agent's prediction of 6 for the conversation
    trigger = SurveyTriggerFactory(mapping=mapping, csid=113)
    prediction = AgentPredictionFactory(mapping=trigger.mapping, csid=113, score=6)
    # when the customer answers 9
    post(client, url, payload(trigger, Rating=9))
    # then
    pair = PgapPair.objects.get()
    assert (pair.prediction, pair.response, pair.gap) == (
        prediction,
        SurveyResponse.objects.get(),
        -3,
    )


def test_a_replay_that_names_another_conversation_moves_the_pair(client, url, account, mapping):
    # given a response paired with conversation 114
    first = SurveyTriggerFactory(mapping=mapping, csid=114)
    second = SurveyTriggerFactory(mapping=mapping, csid=115)
    AgentPredictionFactory(mapping=first.mapping, csid=114)
    AgentPredictionFactory(mapping=second.mapping, csid=115)
    post(client, url, payload(first, RatingTime="2025-03-22T10:00:00Z"))
    assert PgapPair.objects.get().csid == 114
    # when a later version of it names conversation 115
    post(client, url, payload(second, RatingTime="2025-03-22T11:00:00Z"))
    # then
    assert list(PgapPair.objects.values_list("csid", flat=True)) == [115]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_response_at_once_from_four_threads_is_stored_once():
    # given
    trigger = SurveyTriggerFactory(csid=116)
    AgentPredictionFactory(mapping=trigger.mapping, csid=116)
    parsed = survey_response_parse(json.dumps(payload(trigger)).encode())
    barrier = threading.Barrier(4)
    statuses = []

    def deliver():
        try:
            barrier.wait()
            receipt = survey_response_store(account=trigger.account, parsed=parsed)
            statuses.append(receipt.status_code)
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then
    assert sorted(statuses) == [200, 200, 200, 202]
    assert SurveyResponse.objects.count() == 1
    assert PgapPair.objects.count() == 1

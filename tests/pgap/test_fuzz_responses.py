"""Whatever reaches nps.today's response hook is answered with a 2xx for a response that was
stored, or a 4xx with a reason: never a 5xx. On PostgreSQL, where what text, jsonb, integer
and timestamptz cannot hold turns into a DataError."""

import json
import random
from urllib.parse import quote

import pytest
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pgap.models import SurveyResponse
from pgap.services.hooks import response_hook_create
from tests.integrations.test_fuzz_ingest import BIG_INTS, SURROGATES, TRICKY
from tests.ivr.factories import SurveyTriggerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

REFUSALS = {400, 401, 404, 405, 413}
FUZZ = settings(
    database=None,
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TEXT = st.text(st.characters(exclude_categories=()) | SURROGATES | TRICKY, max_size=40)
KEYS = st.sampled_from(
    ["Id", "Rating", "RatingTime", "UserComment", "CampaignId", "Respondent", "Custom"]
    + ["AgentRating", "Guid", "ExternalId", "EmailAddress", "dixaConversationId", "id"]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | BIG_INTS
    | st.floats()
    | TEXT
    | st.integers(-1, 11)
    | st.from_regex(r"\d{1,25}", fullmatch=True)
    | st.uuids().map(str)
    | st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat())
    | st.sampled_from(["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "2025-03-22"])
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(KEYS | TEXT, children, max_size=5)
    ),
    max_leaves=14,
)
PATHS = st.sampled_from(
    [
        ("Id",),
        ("Rating",),
        ("RatingTime",),
        ("UserComment",),
        ("AgentRating",),
        ("CampaignId",),
        ("Guid",),
        ("Custom",),
        ("Custom", "dixaConversationId"),
        ("Respondent",),
        ("Respondent", "ExternalId"),
        ("Respondent", "EmailAddress"),
    ]
)


@pytest.fixture
def hook(account):
    SurveyTriggerFactory(mapping__account=account, csid=294566)
    return response_hook_create(account=account)


@pytest.fixture
def url(hook):
    return reverse("npstoday-responses", kwargs={"secret": hook.secret})


def send(client, path: str, body: bytes, account):
    # A savepoint per example: a DataError re-raised by the test client would otherwise
    # leave the test's transaction aborted for later examples.
    with transaction.atomic():
        response = client.post(path, data=body, content_type="application/json")
    status = response.status_code
    assert status in {200, 202} | REFUSALS, (status, response.content)
    document = response.json()
    if status in (200, 202):
        assert SurveyResponse.objects.filter(account=account, response_id=document["id"]).exists()
    else:
        assert isinstance(document.get("error"), str) and document["error"], document
        assert isinstance(document.get("detail"), str) and document["detail"], document
    return response


def valid(rng: random.Random) -> dict:
    return {
        "Id": rng.choice([rng.randint(1, 10**9), f"r-{rng.random()}"]),
        "Rating": rng.randint(0, 10),
        "RatingTime": "2025-03-22T10:00:00Z",
        "UserComment": "ok",
        "CampaignId": 7232,
        "Respondent": {"ExternalId": "294566", "EmailAddress": "jane@example.com"},
        "Custom": json.dumps({"dixaConversationId": 294566}),
    }


def set_path(document: dict, path: tuple[str, ...], value) -> None:
    *parents, last = path
    node = document
    for name in parents:
        if not isinstance(node.get(name), dict):
            node[name] = {}
        node = node[name]
    node[last] = value


@FUZZ
@given(body=st.binary(max_size=2048))
@example(body=b'{"Id": "\xed\xa0\x80", "Rating": 1}')
@example(body=b'{"Id": 1, "Rating": 1, "Custom": "' + b"[" * 5000 + b'"}')
def test_any_bytes_are_answered_without_a_server_error(client, url, account, body):
    send(client, url, body, account)


@FUZZ
@given(document=JSON)
@example(document={"Id": 1, "Rating": 5, "CampaignId": 2**31})
@example(document={"Id": 2, "Rating": 5, "Custom": {"dixaConversationId": 2**63}})
@example(document={"Id": 3, "Rating": 5, "RatingTime": "9999-12-31T23:59:59-05:00"})
@example(document={"Id": "\ud800", "Rating": 5})
@example(document={"Id": 4, "Rating": 5, "Respondent": {"ExternalId": "\x00"}})
def test_any_json_document_is_answered_without_a_server_error(client, url, account, document):
    send(client, url, json.dumps(document).encode(), account)


@FUZZ
@given(
    rng=st.randoms(use_true_random=False), mutations=st.lists(st.tuples(PATHS, JSON), max_size=3)
)
@example(rng=random.Random(1), mutations=[(("Custom",), {"dixaConversationId": "9" * 30})])
@example(rng=random.Random(2), mutations=[(("Guid",), "00000000-0000-0000-0000-000000000000")])
def test_a_mutated_response_is_stored_or_refused_never_a_server_error(
    client, url, account, rng, mutations
):
    document = valid(rng)
    for path, value in mutations:
        set_path(document, path, value)
    send(client, url, json.dumps(document).encode(), account)


@FUZZ
@given(document=JSON, depth=st.integers(0, 3000))
@example(document={}, depth=100_000)
def test_deeply_nested_documents_are_answered_without_a_server_error(
    client, url, account, document, depth
):
    body = b'{"Id": 1, "Rating": 1, "X": ' + b"[" * depth + json.dumps(document).encode()
    send(client, url, body + b"]" * depth + b"}", account)


@FUZZ
@given(secret=TEXT | st.text(max_size=300))
def test_any_secret_in_the_path_is_answered_without_a_server_error(client, account, secret):
    path = "/api/npstoday/responses/" + quote(secret.encode("utf-8", "surrogatepass"), safe="")
    with transaction.atomic():
        response = client.post(
            path, data=b'{"Id": 1, "Rating": 1}', content_type="application/json"
        )
    assert response.status_code in {401, 404}, response.status_code

"""Whatever reaches the card's endpoint is answered with a 200 the templates can render, or a
4xx with a reason: never a 5xx. Arbitrary bytes, JSON documents, the card's fields with
arbitrary values, and arbitrary Authorization headers."""

import json

import pytest
from django.core.cache import cache
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from integrations.services.api_keys import api_key_create
from pgap.services.card_render import card_render, card_template
from tests.integrations.factories import AccountFactory
from tests.integrations.test_fuzz_ingest import BIG_INTS, SURROGATES, TRICKY
from tests.ivr.factories import IvrMappingFactory, SurveyTriggerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

URL = "/api/dixa/card"
REFUSALS = {400, 401, 405, 415}
FUZZ = settings(
    database=None,
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TEXT = st.text(st.characters(exclude_categories=()) | SURROGATES | TRICKY, max_size=40)
FIELDS = st.sampled_from(["employeeEmail", "customer_email", "customer_phone_number"])
SCALARS = st.none() | st.booleans() | st.integers() | BIG_INTS | st.floats() | TEXT
VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT, children, max_size=3),
    max_leaves=8,
)
EMAILS = st.emails().map(str) | st.from_regex(r"[a-z\"<>\\@. ]{0,20}", fullmatch=True)


@pytest.fixture
def key(db):
    # No nps.today key: nothing leaves the test (the token path has its own tests).
    account = AccountFactory(npstoday_api_key="")
    SurveyTriggerFactory(mapping=IvrMappingFactory(account=account))
    cache.clear()
    return api_key_create(account=account, name="card").plaintext


def send(client, body: bytes, key: str, **headers):
    headers.setdefault("HTTP_AUTHORIZATION", f"Bearer {key}")
    with transaction.atomic():
        response = client.post(URL, data=body, content_type="application/json", **headers)
    status = response.status_code
    assert status in {200} | REFUSALS, (status, response.content)
    document = response.json()
    if status == 200:
        # the answer renders with both templates
        for name in ("relay", "npstoday"):
            card_render(template=card_template(name), answer=document)
        assert document["feedback"]["available"] is False
    else:
        assert isinstance(document.get("error"), str | list) and document["error"], document
        assert document.get("detail"), document
    return response


@FUZZ
@given(body=st.binary(max_size=2048))
@example(body=b'{"customer_email": "\xed\xa0\x80"}')
@example(body=b'{"customer_email": 1e999}')
def test_any_bytes_are_answered_without_a_server_error(client, key, body):
    send(client, body, key)


@FUZZ
@given(document=st.dictionaries(FIELDS | TEXT, VALUES, max_size=5))
@example(document={"customer_email": "\ud800@x.example"})
@example(document={"customer_email": "a@" + "x" * 300 + ".example"})
@example(document={"customer_phone_number": "\x00"})
@example(document={"employeeEmail": ["karla@corp.example"]})
def test_any_json_object_is_answered_without_a_server_error(client, key, document):
    send(client, json.dumps(document).encode(), key)


@FUZZ
@given(email=EMAILS, phone=TEXT, agent=EMAILS)
def test_any_card_fields_are_answered_without_a_server_error(client, key, email, phone, agent):
    body = {"employeeEmail": agent, "customer_email": email, "customer_phone_number": phone}
    send(client, json.dumps(body).encode(), key)


@FUZZ
@given(header=st.text(max_size=200) | st.binary(max_size=100).map(lambda b: b.hex()))
@example(header="Basic " + "A" * 2000)
@example(header="Basic QXBpS2V5Og==")  # "ApiKey:" with no password
def test_any_authorization_is_answered_without_a_server_error(client, key, header):
    with transaction.atomic():
        response = client.post(
            URL, data=b"{}", content_type="application/json", HTTP_AUTHORIZATION=header
        )
    assert response.status_code == 401, response.status_code


@FUZZ
@given(
    content_type=st.text(max_size=80)
    | st.sampled_from(["application/json; charset=nope", "application/json; charset=utf-16"])
    | st.from_regex(r"application/json(; [a-z]{1,8}=[^;\r\n]{0,12}){0,3}", fullmatch=True)
)
def test_any_content_type_is_answered_without_a_server_error(client, key, content_type):
    with transaction.atomic():
        response = client.generic(  # generic: the test client would re-encode the body
            "POST",
            URL,
            data=json.dumps({"customer_email": "jane@example.com"}).encode(),
            content_type=content_type,
            HTTP_AUTHORIZATION=f"Bearer {key}",
        )
    assert response.status_code in {200} | REFUSALS, (content_type, response.status_code)

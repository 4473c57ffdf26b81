"""Whatever reaches POST /api/dixa/relay is answered with a 2xx for an event that was stored,
or a 4xx with a reason: never a 5xx. On PostgreSQL, where what text, jsonb, bigint and
timestamptz cannot hold turns into a DataError."""

import base64
import json
import random
import time

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from integrations.dixa import samples, signature
from integrations.models import InboundEvent
from tests.integrations.factories import SigningSecretFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

URL = "/api/dixa/relay"
SECRET = "0a1b2c3d4e5f" * 4
REFUSALS = {400, 401, 405, 411, 413}
FUZZ = settings(
    database=None,  # no .hypothesis/ directory in the repository
    deadline=None,
    max_examples=50,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text with what breaks parsers and databases: NUL, lone surrogates, digits int() refuses.
TRICKY = st.sampled_from(["\x00", "\ud800", "\udfff", "\u00e9", "\u00b2", "\u0661", "\u4e2d"])
SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, exclude_categories=())
TEXT = st.text(st.characters(exclude_categories=()) | SURROGATES | TRICKY, max_size=40)
# Header values the request keeps (X-Dixa-Signature is one), NUL and lone surrogates too.
HEADER_TEXT = st.text(st.characters(exclude_categories=()) | TRICKY, max_size=60)
ENVELOPE_KEYS = st.sampled_from(
    ["event_id", "eventId", "event_fqn", "eventFqn", "event_timestamp", "eventTimestamp"]
    + ["data", "conversation", "csid", "queue", "id", "channel", "organization"]
)
BIG_INTS = st.sampled_from([2**63 - 1, 2**63, -(2**63) - 1, 10**40, 10**4000])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | BIG_INTS
    | st.floats()
    | TEXT
    | st.from_regex(r"\d{1,40}", fullmatch=True)  # \d: any Unicode digit
    | st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat())
    | st.sampled_from(["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(ENVELOPE_KEYS | TEXT, children, max_size=4)
    ),
    max_leaves=12,
)
# Where a mutation lands in a valid envelope.
PATHS = st.sampled_from(
    [
        ("event_id",),
        ("event_fqn",),
        ("event_timestamp",),
        ("organization",),
        ("organization", "id"),
        ("data",),
        ("data", "queue"),
        ("data", "conversation"),
        ("data", "conversation", "csid"),
        ("data", "conversation", "channel"),
        ("data", "conversation", "queue"),
        ("data", "conversation", "queue", "id"),
    ]
)


def dumps(document) -> bytes:
    """JSON as a caller could send it: NaN and Infinity included, lone surrogates as
    \\uXXXX escapes (ASCII output)."""
    return json.dumps(document).encode()


def valid_event(rng: random.Random) -> dict:
    return samples.event(
        rng.choice(samples.EVENT_TYPES), rng=rng, casing=rng.choice(["snake", "camel"])
    )


def deliver(client, key, body: bytes, *, auth: str | None = None, sig: str | None = None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key.plaintext}" if auth is None else auth}
    if sig is not None:
        headers["HTTP_X_DIXA_SIGNATURE"] = sig
    # A savepoint per example: a DataError raised by the view (re-raised by the test
    # client) would otherwise leave the test's transaction aborted for later examples.
    with transaction.atomic():
        response = client.post(URL, data=body, content_type="application/json", **headers)
    assert_answered(response, key.api_key.account)
    return response


def assert_answered(response, account) -> None:
    status = response.status_code
    assert status in {200, 202} | REFUSALS, (status, response.content)
    payload = response.json()
    if status in (200, 202):
        events = InboundEvent.objects.filter(account=account, event_id=payload["event_id"])
        assert events.exists(), payload
    else:
        assert isinstance(payload.get("error"), str) and payload["error"], payload
        assert isinstance(payload.get("detail"), str) and payload["detail"], payload


def set_path(document: dict, path: tuple[str, ...], value) -> None:
    """Put `value` at `path`, making (or replacing) the dicts on the way."""
    *parents, last = path
    node = document
    for name in parents:
        if not isinstance(node.get(name), dict):
            node[name] = {}
        node = node[name]
    node[last] = value


@pytest.fixture(params=["unsigned", "signed"])
def key(request, issued_key):
    """An issued key, on an account without a signing secret and on one with a secret."""
    if request.param == "signed":
        SigningSecretFactory(account=issued_key.api_key.account, secret=SECRET)
    return issued_key


def sign(body: bytes, secret: str = SECRET) -> str:
    return signature.header_value(secret, int(time.time() * 1000), body)


@FUZZ
@given(body=st.binary(max_size=2048))
@example(body=b'{"event_id": "e-\xed\xa0\x80", "event_fqn": "X"}')  # UTF-8 of U+D800
@example(body=b'{"event_id": "e", "event_fqn": "X", "csid": ' + b"1" * 5000 + b"}")
def test_any_bytes_body_is_answered_without_a_server_error(client, key, body):
    deliver(client, key, body, sig=sign(body))


@FUZZ
@given(document=JSON)
@example(document=[[[[]]]])
@example(document={"event_id": "\ud800", "event_fqn": "X"})
def test_any_json_document_is_answered_without_a_server_error(client, key, document):
    body = dumps(document)
    deliver(client, key, body, sig=sign(body))


@FUZZ
@given(
    rng=st.randoms(use_true_random=False), mutations=st.lists(st.tuples(PATHS, JSON), max_size=3)
)
@example(rng=random.Random(1), mutations=[(("data", "conversation", "csid"), 2**63)])
@example(rng=random.Random(2), mutations=[(("event_timestamp",), "9999-12-31T23:59:59-05:00")])
@example(rng=random.Random(3), mutations=[(("data", "conversation", "queue", "id"), "q\ud800")])
def test_a_mutated_envelope_is_stored_or_refused_never_a_server_error(client, key, rng, mutations):
    document = valid_event(rng)
    for path, value in mutations:
        set_path(document, path, value)
    body = dumps(document)
    deliver(client, key, body, sig=sign(body))


@FUZZ
@given(document=JSON, depth=st.integers(0, 5000), opener=st.sampled_from([b"[", b'{"data":']))
@example(document={}, depth=100_000, opener=b"[")
def test_deeply_nested_documents_are_answered_without_a_server_error(
    client, key, document, depth, opener
):
    closer = b"]" if opener == b"[" else b"}"
    body = opener * depth + dumps(document) + closer * depth
    deliver(client, key, body, sig=sign(body))


def authorizations(plaintext: str):
    """Authorization values: arbitrary text, both schemes with junk, and the real key
    cut, padded or with characters swapped in."""
    junk = TEXT | st.text(max_size=600)
    key_variants = st.builds(
        lambda cut, extra: plaintext[:cut] + extra,
        st.integers(0, len(plaintext)),
        TEXT,
    )
    credential = junk | key_variants
    return st.one_of(
        TEXT,
        st.builds(lambda s: f"Bearer {s}", credential),
        st.builds(lambda s: f"Token {s}", credential),
        st.builds(lambda b: "Basic " + base64.b64encode(b).decode(), st.binary(max_size=80)),
        st.builds(
            lambda user, pw: (
                "Basic "
                + base64.b64encode(f"{user}:{pw}".encode("utf-8", "surrogatepass")).decode()
            ),
            TEXT,
            credential,
        ),
        st.builds(lambda s: f"Basic {s}", TEXT),
    )


@FUZZ
@given(data=st.data())
def test_any_authorization_is_answered_without_a_server_error(client, key, data):
    auth = data.draw(authorizations(key.plaintext))
    body = samples.encode(samples.event("ConversationClosed"))
    response = deliver(client, key, body, auth=auth, sig=sign(body))
    if response.status_code == 401:
        assert response.json()["error"] in {
            "invalid_credentials",
            "missing_credentials",
            "invalid_signature",
        }


def signatures(body: bytes):
    """X-DIXA-SIGNATURE values: arbitrary text, the right shape with junk in it, a valid
    header with its parts swapped for junk."""
    now_ms = str(int(time.time() * 1000))
    valid_v1 = signature.compute(SECRET, now_ms, body)
    digits = st.from_regex(r"\d{0,40}", fullmatch=True) | st.just("9" * 5000)
    return st.one_of(
        HEADER_TEXT,
        st.builds(lambda t, v: f"t={t},v1={v}", digits | HEADER_TEXT, HEADER_TEXT),
        st.builds(lambda v: f"t={now_ms},v1={v}", HEADER_TEXT),
        st.builds(lambda t: f"t={t},v1={valid_v1}", digits | HEADER_TEXT),
        st.builds(lambda extra: f"t={now_ms},v1={valid_v1}{extra}", HEADER_TEXT),
    )


@FUZZ
@given(data=st.data())
def test_any_signature_header_is_answered_without_a_server_error(client, key, data):
    body = samples.encode(samples.event("ConversationClosed"))
    deliver(client, key, body, sig=data.draw(signatures(body)))


@pytest.mark.parametrize("value", ["t=1\x00", "\ud800"], ids=["nul", "surrogate"])
def test_a_kept_header_with_nul_or_a_surrogate_is_not_a_500(client, key, value):
    # PostgreSQL jsonb cannot hold NUL or lone surrogates: the kept copy drops them.
    body = samples.encode(samples.event("ConversationClosed"))
    deliver(client, key, body, sig=value)

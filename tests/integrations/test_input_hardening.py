"""Bad input is refused with a reason (AuthenticationFailed, a named SignatureProblem,
EnvelopeError) or left out of the indexed copy: never an exception that becomes a 5xx."""

import base64
import json

import pytest
from django.test import Client

from integrations.api.credentials import AuthenticationFailed, credential_from_header
from integrations.dixa import envelope, samples, signature
from integrations.dixa.signature import SignatureProblem
from integrations.models import InboundEvent, RejectedDelivery
from integrations.services.api_keys import api_key_authenticate

URL = "/api/dixa/relay"
SECRET = "4a6f686e446f65536563726574"
NOW = 1_689_238_949.803
T = "1689238949803"


def basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


def refused(header: str) -> AuthenticationFailed:
    with pytest.raises(AuthenticationFailed) as caught:
        credential_from_header(header)
    assert caught.value.code == "invalid_credentials"
    return caught.value


def verify(header: str, body: bytes = b"{}") -> SignatureProblem | None:
    return signature.verify(header=header, body=body, secrets=[SECRET], now=NOW, tolerance=300)


def document(**fields) -> dict:
    return {"event_id": "e-1", "event_fqn": "CONVERSATION_CLOSED", **fields}


def parse(payload: dict) -> envelope.Envelope:
    return envelope.parse(json.dumps(payload).encode())


def with_conversation(**conversation) -> envelope.Envelope:
    return parse(document(data={"conversation": conversation}))


# 1. Authorization


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"ApiKey:\xff\xfe", "UTF-8"),
        (b"ApiKey:dsr_\x00abcdefghijkl", "control character"),
        (b"ApiKey:dsr_abc\ndef", "control character"),
    ],
)
def test_basic_credentials_that_decode_to_unusable_text_are_refused_with_a_reason(raw, reason):
    assert reason in refused(basic(raw)).detail


@pytest.mark.parametrize("value", ["dXNlcjpwYXM", "dXNlcjpwYXM===", "dXNl=cjpw", "dX*lcjpwYXNz"])
def test_basic_credentials_that_are_not_base64_are_refused(value):
    assert "base64" in refused(f"Basic {value}").detail


def test_basic_credentials_without_a_colon_are_refused():
    assert "password" in refused(basic(b"dsr_nocolon")).detail


@pytest.mark.parametrize(
    "header",
    ["Basic dXNl\u00e9cjpwYXNz", "Basic \u4e2d\u6587", "Bearer dsr_\ud800abcdefgh", "Bearer dsr_é"],
)
def test_authorization_with_characters_beyond_ascii_is_refused(header):
    assert "ASCII" in refused(header).detail


def test_authorization_with_a_control_character_is_refused():
    assert "control character" in refused("Bearer dsr_\x00abcdefghijkl").detail


def test_an_absurdly_long_bearer_token_is_refused_before_any_lookup():
    # no django_db mark: a database query would fail this test
    assert "long" in refused("Bearer dsr_" + "a" * 600).detail


def test_an_absurdly_long_authorization_header_is_refused():
    assert "long" in refused(basic(b"ApiKey:dsr_" + b"a" * 100_000)).detail


def test_a_well_formed_credential_still_passes():
    assert credential_from_header(basic(b"ApiKey:dsr_abc")) == "dsr_abc"
    assert credential_from_header("Bearer  dsr_abc ") == "dsr_abc"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "plaintext", ["dsr_\x00abcdefghijkl", "dsr_\ud800abcdefghijkl", "dsr_é" + "a" * 20]
)
def test_key_lookup_of_text_no_key_can_hold_finds_nothing_without_a_query(
    plaintext, django_assert_num_queries
):
    with django_assert_num_queries(0):
        assert api_key_authenticate(plaintext=plaintext) is None


# 2 and 6. The body


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b'{"event_id": ' + b"1" * 5000 + b"}",
        b"\xff\xfe\x00\xd8",  # UTF-16 with an unpaired surrogate
    ],
    ids=["deep-array", "deep-object", "long-int", "utf16-surrogate"],
)
def test_a_body_json_cannot_read_is_an_envelope_error(body):
    with pytest.raises(envelope.EnvelopeError, match="not valid JSON"):
        envelope.parse(body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"event_id": "e\\ud800", "event_fqn": "CONVERSATION_CLOSED"}',
        b'{"event_id": "e\\udfff\\ud800", "event_fqn": "CONVERSATION_CLOSED"}',
        b'{"event_id": "e\xed\xa0\x80", "event_fqn": "CONVERSATION_CLOSED"}',
        b'{"event_id": "e-1", "event_fqn": "CONVERSATION_\\ud800CLOSED"}',
        b'{"eventId": "e-1", "eventFqn": "\\udc00"}',
    ],
)
def test_unpaired_surrogates_in_the_essentials_are_an_envelope_error(body):
    with pytest.raises(envelope.EnvelopeError, match="surrogate"):
        envelope.parse(body)


def test_a_paired_surrogate_escape_is_an_ordinary_character():
    assert envelope.parse(b'{"event_id": "e\\ud83d\\ude00", "event_fqn": "X"}').event_id == "e😀"


def test_unpaired_surrogates_are_dropped_from_the_other_indexed_copies():
    parsed = parse(
        document(
            organization={"id": "org\ud800-1"},
            data={"conversation": {"channel": "EM\udfffAIL", "queue": {"id": "\ud800q-1\x00"}}},
        )
    )
    assert (parsed.organization_id, parsed.channel, parsed.queue_id) == ("org-1", "EMAIL", "q-1")


@pytest.mark.parametrize("queue_id", [{"nested": "id"}, ["q-1"], True])
def test_a_queue_id_that_is_not_a_scalar_is_not_indexed(queue_id):
    assert with_conversation(queue={"id": queue_id}).queue_id == ""


# 4. csid


@pytest.mark.parametrize(
    "csid",
    [2**63, -(2**63) - 1, 10**30, "9223372036854775808", "1" * 5000, "\u00b2", "\u0661\u0662"],
    ids=["2^63", "below-bigint", "1e30", "2^63-text", "5000-digits", "superscript", "arabic"],
)
def test_a_csid_postgresql_bigint_cannot_hold_is_not_indexed(csid):
    assert with_conversation(csid=csid).csid is None


@pytest.mark.parametrize("csid, expected", [(2**63 - 1, 2**63 - 1), ("42", 42), (7, 7)])
def test_a_csid_within_bigint_is_indexed(csid, expected):
    assert with_conversation(csid=csid).csid == expected


# 5. event_timestamp


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00+05:00",
        "9999-12-31T23:59:59-05:00",
        "0001-01-01T00:00:00Z",
        "1899-12-31T23:59:59Z",
        "2201-01-01T00:00:00Z",
        "\u0662\u0660\u0662\u0663-01-01T00:00:00Z",
    ],
)
def test_a_timestamp_outside_the_sane_range_is_not_indexed(value):
    assert parse(document(event_timestamp=value)).event_timestamp is None


@pytest.mark.parametrize(
    "value", ["1900-01-01T00:00:00Z", "2200-12-31T23:59:59Z", "2023-01-01T00:00:00+05:00"]
)
def test_a_timestamp_inside_the_range_is_indexed(value):
    assert parse(document(event_timestamp=value)).event_timestamp is not None


# 3. X-DIXA-SIGNATURE


@pytest.mark.parametrize(
    "header",
    [
        "t=\u0661\u0666\u0668\u0669,v1=" + "0" * 64,  # Arabic-Indic digits
        "t=\u00b9\u00b2\u00b3,v1=" + "0" * 64,  # superscripts: isdigit() but not int()
        "t=" + "9" * 5000 + ",v1=" + "0" * 64,
        "t=" + "9" * 400 + ",v1=" + "0" * 64,
        f"t={T},v1=\u00e9" + "0" * 63,
        f"t={T},v1=\ud800",
        f"t={T},v1=zz" + "0" * 62,
        f"t={T},v1=" + "0" * 64 + ",v1=" * 1000,
        f"t={T}," + ",".join(["v1=" + "0" * 64] * (signature.MAX_SIGNATURES + 1)),
    ],
    ids=[
        "arabic-t",
        "superscript-t",
        "5000-digit-t",
        "400-digit-t",
        "non-ascii-v1",
        "surrogate-v1",
        "non-hex-v1",
        "huge-header",
        "many-v1",
    ],
)
def test_a_signature_header_of_impossible_values_is_malformed(header):
    assert verify(header) is SignatureProblem.MALFORMED


def test_a_signature_header_with_nul_is_malformed_not_an_error():
    assert verify(f"t={T}\x00,v1=" + "0" * 64) is SignatureProblem.MALFORMED


def test_a_well_formed_signature_still_verifies():
    body = b'{"event_id":"a"}'
    assert verify(signature.header_value(SECRET, int(T), body), body=body) is None


# Through the endpoint, on PostgreSQL: what the database cannot hold is never sent to it.


def post(body: bytes, auth: str, **headers):
    return Client().post(
        URL, data=body, content_type="application/json", HTTP_AUTHORIZATION=auth, **headers
    )


def stored(issued_key, payload: dict) -> InboundEvent:
    body = json.dumps(payload).encode()  # ASCII: lone surrogates travel as \uXXXX escapes
    response = post(body, f"Bearer {issued_key.plaintext}")
    assert response.status_code == 202, response.content
    event = InboundEvent.objects.get(pk=response.json()["id"])
    assert bytes(event.body.raw_body) == body
    return event


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("csid", [2**63, 10**40, "99999999999999999999"])
def test_a_csid_beyond_bigint_is_stored_without_its_index(issued_key, csid):
    payload = samples.event("ConversationClosed", conversation_overrides={"csid": csid})
    assert stored(issued_key, payload).csid is None


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_an_edge_of_range_timestamp_is_stored_readable(issued_key, value):
    payload = {**samples.event("ConversationClosed"), "event_timestamp": value}
    event = stored(issued_key, payload)
    assert InboundEvent.objects.filter(pk=event.pk).values_list("event_timestamp").get() == (None,)


@pytest.mark.postgres
@pytest.mark.django_db
def test_unpaired_surrogates_outside_the_essentials_are_stored_without_them(issued_key):
    payload = samples.event("ConversationClosed")
    payload["data"]["conversation"]["queue"] = {"id": "q\ud800-1", "name": "Support"}
    payload["data"]["conversation"]["channel"] = "EM\udc00AIL"
    payload["organization"] = {"id": "org\udfff"}
    event = stored(issued_key, payload)
    assert (event.queue_id, event.channel, event.organization_id) == ("q-1", "EMAIL", "org")


@pytest.mark.postgres
@pytest.mark.django_db
def test_an_unpaired_surrogate_in_the_event_id_is_400(issued_key):
    body = b'{"event_id": "e\\ud800", "event_fqn": "CONVERSATION_CLOSED"}'
    response = post(body, f"Bearer {issued_key.plaintext}")
    assert response.status_code == 400
    assert "surrogate" in response.json()["detail"]
    assert bytes(RejectedDelivery.objects.get().raw_body) == body


@pytest.mark.postgres
@pytest.mark.django_db
def test_deeply_nested_json_is_400(issued_key):
    response = post(b"[" * 100_000 + b"]" * 100_000, f"Bearer {issued_key.plaintext}")
    assert (response.status_code, response.json()["error"]) == (400, "invalid_payload")


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize(
    "auth",
    [
        basic(b"ApiKey:dsr_\x00abcdefghijklmnop"),
        "Bearer dsr_\x00abcdefghijklmnop",
        "Bearer dsr_\ud800abcdefghijklmnop",
        "Basic \u00e9\u00e9\u00e9\u00e9",
        "Bearer dsr_" + "a" * 10_000,
    ],
    ids=["basic-nul", "bearer-nul", "bearer-surrogate", "basic-latin1", "bearer-huge"],
)
def test_an_unusable_authorization_is_401(db, auth):
    response = post(b"{}", auth)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_credentials"


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_signature_that_cannot_be_read_is_401(issued_key):
    from tests.integrations.factories import SigningSecretFactory

    SigningSecretFactory(account=issued_key.api_key.account, secret=SECRET)
    body = samples.encode(samples.event("ConversationClosed"))
    response = post(
        body, f"Bearer {issued_key.plaintext}", HTTP_X_DIXA_SIGNATURE="t=" + "9" * 5000 + ",v1=ab"
    )
    assert response.status_code == 401
    assert response.json()["detail"] == SignatureProblem.MALFORMED.value

import base64
import io
import time
from datetime import UTC, datetime
from unittest import mock

import pytest
import time_machine
from django.db import DEFAULT_DB_ALIAS, OperationalError, connection, connections

from integrations.api import views
from integrations.dixa import catalogue, envelope, samples, signature
from integrations.models import InboundEvent, RejectedDelivery
from integrations.services import ingest
from integrations.services.api_keys import api_key_revoke
from tests.integrations.factories import SigningSecretFactory
from tests.support.wsgi_client import WsgiClient

pytestmark = pytest.mark.django_db
URL = "/api/dixa/relay"
SECRET = "0a1b2c3d4e5f" * 4


def post(client, body: bytes, key: str | None, *, sig: str | None = None, auth=None, **headers):
    if key is not None and auth is None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    elif auth is not None:
        headers["HTTP_AUTHORIZATION"] = auth
    if sig:
        headers["HTTP_X_DIXA_SIGNATURE"] = sig
    headers.setdefault("HTTP_X_DIXA_SUBSCRIPTION_ID", "beabb3e2-3a10-4a44-9a88-9359887a139f")
    return client.post(URL, data=body, content_type="application/json", **headers)


def signed(body: bytes, secret=SECRET, at: float | None = None) -> str:
    return signature.header_value(secret, int((at or time.time()) * 1000), body)


@pytest.fixture
def signed_account(issued_key):
    SigningSecretFactory(account=issued_key.api_key.account, secret=SECRET)
    return issued_key


def test_signed_delivery_is_stored_byte_for_byte_and_acknowledged(client, signed_account):
    # given
    body = samples.encode(samples.event("ConversationClosed"))
    header = signed(body)
    # when
    response = post(client, body, signed_account.plaintext, sig=header)
    # then
    assert response.status_code == 202
    event = InboundEvent.objects.get()
    assert bytes(event.body.raw_body) == body
    assert event.verification == InboundEvent.Verification.VERIFIED
    assert event.event_type == "ConversationClosed"
    assert event.body.headers["X-Dixa-Signature"] == header
    assert event.body.headers["X-Dixa-Subscription-Id"] == "beabb3e2-3a10-4a44-9a88-9359887a139f"
    assert "Authorization" not in event.body.headers
    assert response.json() == {"status": "accepted", "event_id": event.event_id, "id": event.pk}


def test_the_headers_kept_with_an_event_are_named_and_never_include_credentials():
    # given a request's META with the headers worth keeping and others
    meta = {
        "HTTP_X_DIXA_SUBSCRIPTION_ID": "sub-1",
        "HTTP_X_DIXA_SIGNATURE": "t=1,v1=00",
        "CONTENT_TYPE": "application/json",
        "HTTP_USER_AGENT": "Dixa-Webhooks",
        "HTTP_AUTHORIZATION": "Bearer dsr_secret",
        "HTTP_COOKIE": "sessionid=abc",
        "REMOTE_ADDR": "10.0.0.1",
    }
    # then only those are kept, by their header names
    assert ingest.kept_headers(meta) == {
        "X-Dixa-Subscription-Id": "sub-1",
        "X-Dixa-Signature": "t=1,v1=00",
        "Content-Type": "application/json",
        "User-Agent": "Dixa-Webhooks",
    }


def test_the_acknowledgement_is_json_with_its_length_and_security_headers(client, issued_key):
    body = samples.encode(samples.event("ConversationClosed"))
    response = post(client, body, issued_key.plaintext)
    assert response.status_code == 202
    assert response["Content-Type"] == "application/json"
    assert response["Content-Length"] == str(len(response.content))
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    # Django's whole middleware stack answers it, as every view (the old fast path lacked this)
    assert response["X-Frame-Options"] == "DENY"


def test_the_stored_row_holds_the_parsed_essentials_and_the_model_defaults(client, issued_key):
    # given a delivery with every essential present
    payload = samples.event("ConversationClosed")
    body = samples.encode(payload)
    parsed = envelope.parse(body)
    # when
    with time_machine.travel("2026-11-22 12:00:00.5Z", tick=False):
        post(client, body, issued_key.plaintext)
    # then the columns ingest writes itself hold what the parser found, and every other
    # column what InboundEvent() would have saved
    event = InboundEvent.objects.get()
    assert event.account_id == issued_key.api_key.account_id
    assert (event.event_id, event.event_fqn, event.event_type, event.is_known_type) == (
        parsed.event_id,
        parsed.event_fqn,
        "ConversationClosed",
        True,
    )
    assert (event.csid, event.queue_id, event.channel, event.organization_id) == (
        parsed.csid,
        parsed.queue_id,
        parsed.channel,
        parsed.organization_id,
    )
    assert parsed.csid and parsed.queue_id and parsed.organization_id
    assert event.event_timestamp == parsed.event_timestamp is not None
    assert event.received_at == datetime(2026, 11, 22, 12, 0, 0, 500000, tzinfo=UTC)
    request_id = event.body.headers.pop("X-Request-ID")
    assert event.body.headers == {
        "Content-Type": "application/json",
        "X-Dixa-Subscription-Id": "beabb3e2-3a10-4a44-9a88-9359887a139f",
    }
    assert len(request_id) == 32  # the id the answer carried, kept for the work it causes
    fresh = InboundEvent()
    for field in ("status", "outcome", "outcome_reason", "processing_attempts", "queued_at"):
        assert getattr(event, field) == getattr(fresh, field), field
    assert (event.processing_started_at, event.processed_at) == (None, None)


def test_basic_auth_with_the_key_as_password(client, issued_key):
    body = samples.encode(samples.event("ConversationOpen"))
    basic = "Basic " + base64.b64encode(f"ApiKey:{issued_key.plaintext}".encode()).decode()
    assert post(client, body, None, auth=basic).status_code == 202


@pytest.mark.parametrize(
    "auth, code",
    [
        (None, "missing_credentials"),
        ("Bearer dsr_unknownkey000000000000000000", "invalid_credentials"),
        ("Basic !!notbase64", "invalid_credentials"),
        ("Basic " + base64.b64encode(b"ApiKey:").decode(), "invalid_credentials"),
        ("Digest abc", "invalid_credentials"),
    ],
)
def test_missing_or_unknown_credentials_are_401_and_not_stored(client, account, auth, code):
    response = post(client, b"{}", None, auth=auth)
    assert response.status_code == 401
    assert response.json()["error"] == code
    assert response.json()["detail"]
    assert not RejectedDelivery.objects.exists()


def test_a_refused_caller_is_told_what_is_wrong_and_how_to_authenticate(client, account):
    # when a delivery comes without credentials, then with a key nobody issued
    missing = post(client, b"{}", None)
    unknown = post(client, b"{}", "dsr_unknownkey000000000000000000")
    # then each 401 names the problem and asks for a Bearer credential of the relay's realm
    assert "Authorization header is missing" in missing.json()["detail"]
    assert "unknown or revoked" in unknown.json()["detail"]
    for response in (missing, unknown):
        assert response["WWW-Authenticate"] == 'Bearer realm="relay"'


def test_revoked_key_is_401(client, issued_key):
    api_key_revoke(api_key=issued_key.api_key)
    body = samples.encode(samples.event("ConversationClosed"))
    assert post(client, body, issued_key.plaintext).status_code == 401


@pytest.mark.parametrize(
    "make_header, detail",
    [
        (lambda body: None, "missing"),
        (lambda body: "t=abc", "not of the form"),
        (lambda body: signed(body, at=time.time() - 301), "tolerance"),
        (lambda body: signed(body, secret="ff" * 16), "does not match"),
    ],
)
def test_bad_signatures_are_401_and_kept_for_inspection(
    client, signed_account, make_header, detail
):
    body = samples.encode(samples.event("ConversationClosed"))
    response = post(client, body, signed_account.plaintext, sig=make_header(body))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_signature"
    assert detail in response.json()["detail"]
    rejected = RejectedDelivery.objects.get()
    assert bytes(rejected.raw_body) == body and rejected.status_code == 401
    assert rejected.headers["X-Dixa-Subscription-Id"] == "beabb3e2-3a10-4a44-9a88-9359887a139f"
    assert not InboundEvent.objects.exists()


def test_old_and_new_secret_both_verify_during_rotation(client, signed_account):
    SigningSecretFactory(account=signed_account.api_key.account, secret="ab" * 32)
    for secret in (SECRET, "ab" * 32):
        body = samples.encode(samples.event("ConversationClosed"))
        assert (
            post(client, body, signed_account.plaintext, sig=signed(body, secret)).status_code
            == 202
        )
    assert InboundEvent.objects.count() == 2


def test_inactive_secret_no_longer_verifies(client, issued_key):
    SigningSecretFactory(account=issued_key.api_key.account, secret=SECRET, is_active=False)
    SigningSecretFactory(account=issued_key.api_key.account, secret="ab" * 32)
    body = samples.encode(samples.event("ConversationClosed"))
    assert post(client, body, issued_key.plaintext, sig=signed(body, SECRET)).status_code == 401


def test_without_a_secret_deliveries_are_accepted_unverified(client, issued_key):
    body = samples.encode(samples.event("ConversationClosed"))
    assert post(client, body, issued_key.plaintext).status_code == 202
    assert InboundEvent.objects.get().verification == InboundEvent.Verification.UNVERIFIED


def test_require_signature_without_a_secret_refuses(client, issued_key):
    account = issued_key.api_key.account
    account.require_signature = True
    account.save()
    body = samples.encode(samples.event("ConversationClosed"))
    response = post(client, body, issued_key.plaintext, sig=signed(body))
    assert response.status_code == 401
    assert "requires signed deliveries" in response.json()["detail"]
    assert RejectedDelivery.objects.count() == 1


def test_account_tolerance_is_configurable(client, signed_account):
    account = signed_account.api_key.account
    account.signature_tolerance_seconds = 3600
    account.save()
    body = samples.encode(samples.event("ConversationClosed"))
    assert (
        post(
            client, body, signed_account.plaintext, sig=signed(body, at=time.time() - 1800)
        ).status_code
        == 202
    )


def test_repeat_delivery_is_200_and_creates_nothing(client, issued_key):
    body = samples.encode(samples.event("ConversationClosed"))
    first = post(client, body, issued_key.plaintext)
    second = post(client, body, issued_key.plaintext)
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json() == {"status": "duplicate", "event_id": first.json()["event_id"]}
    assert InboundEvent.objects.count() == 1


def test_same_event_id_in_two_accounts_is_two_events(client, issued_key):
    from integrations.services.api_keys import api_key_create
    from tests.integrations.factories import AccountFactory

    other = api_key_create(account=AccountFactory(), name="other")
    body = samples.encode(samples.event("ConversationClosed", event_id="shared-id"))
    assert post(client, body, issued_key.plaintext).status_code == 202
    assert post(client, body, other.plaintext).status_code == 202


@pytest.mark.parametrize("casing", ["snake", "camel"])
def test_every_catalogue_type_is_accepted_and_recognised(client, issued_key, casing):
    for event_type in catalogue.EVENT_TYPES:
        body = samples.encode(samples.event(event_type, casing=casing))
        assert post(client, body, issued_key.plaintext).status_code == 202, event_type
    stored = set(InboundEvent.objects.values_list("event_type", flat=True))
    assert stored == set(catalogue.EVENT_TYPES)
    assert not InboundEvent.objects.filter(is_known_type=False).exists()


def test_null_queue_and_assignee_are_accepted(client, issued_key):
    body = samples.encode(samples.event("ConversationClosed", queue=False, assignee=False))
    assert post(client, body, issued_key.plaintext).status_code == 202
    assert InboundEvent.objects.get().queue_id == ""


def test_unknown_type_is_stored_not_refused(client, issued_key):
    body_dict = samples.event("ConversationClosed")
    body_dict["event_fqn"] = "CONVERSATION_TELEPORTED"
    assert post(client, samples.encode(body_dict), issued_key.plaintext).status_code == 202
    assert InboundEvent.objects.get().is_known_type is False


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "JSON object"),
        (b'{"event_fqn": "CONVERSATION_CLOSED"}', "event_id"),
        (b'{"event_id": "e-1"}', "event_fqn"),
        (b"", "not valid JSON"),
        (b'{"event_id": "e\\u0000", "event_fqn": "CONVERSATION_CLOSED"}', "NUL"),
        (b'{"event_id": "e-2", "event_fqn": "CONVERSATION\\u0000CLOSED"}', "NUL"),
    ],
)
def test_malformed_body_is_400_with_reason_and_kept_raw(client, issued_key, body, reason):
    response = post(client, body, issued_key.plaintext)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_payload"
    assert reason in response.json()["detail"]
    rejected = RejectedDelivery.objects.get()
    assert bytes(rejected.raw_body) == body
    assert (rejected.body_size, rejected.body_truncated) == (len(body), False)
    assert rejected.account == issued_key.api_key.account


def test_nul_characters_in_indexed_fields_are_dropped_from_the_index_not_refused(
    client, issued_key
):
    # given NUL characters where PostgreSQL text cannot hold them, outside the essentials
    payload = samples.event("ConversationClosed")
    payload["data"]["conversation"]["channel"] = "em\u0000ail"
    payload["data"]["conversation"]["queue"] = {"id": "q\u0000-1", "name": "Support"}
    body = samples.encode(payload)
    # when
    response = post(client, body, issued_key.plaintext)
    # then the event is stored, its raw body untouched
    assert response.status_code == 202
    event = InboundEvent.objects.get()
    assert (event.channel, event.queue_id) == ("email", "q-1")
    assert bytes(event.body.raw_body) == body


def test_oversize_body_is_413_and_its_head_kept(client, issued_key, settings):
    body = b'{"event_id": "big", "pad": "' + b"x" * (1024 * 1024) + b'"}'
    response = post(client, body, issued_key.plaintext)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    rejected = RejectedDelivery.objects.get()
    assert rejected.body_size == len(body)
    assert rejected.body_truncated
    assert bytes(rejected.raw_body) == body[: settings.REJECTED_BODY_KEEP_BYTES]
    assert not InboundEvent.objects.exists()


def test_body_of_exactly_the_limit_is_not_413(client, issued_key, settings):
    payload = samples.event("ConversationClosed")
    raw = samples.encode(payload)
    payload["pad"] = "x" * (settings.DIXA_MAX_BODY_BYTES - len(raw) - len(',"pad":""'))
    body = samples.encode(payload)
    assert len(body) == settings.DIXA_MAX_BODY_BYTES
    assert post(client, body, issued_key.plaintext).status_code == 202


def test_get_is_405(client):
    response = client.get(URL)
    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_refusals_are_logged_as_django_logs_them(client, issued_key, caplog):
    # when an unknown key and a malformed body are refused
    post(client, b"{}", "dsr_unknownkey000000000000000000")
    post(client, b"[1]", issued_key.plaintext)
    # then django.request logs each with its status, as for any other view
    logged = [
        (r.levelname, r.status_code, r.getMessage())
        for r in caplog.records
        if r.name == "django.request"
    ]
    assert logged == [
        ("WARNING", 401, f"Unauthorized: {URL}"),
        ("WARNING", 400, f"Bad Request: {URL}"),
    ]


def test_database_outage_is_503_so_dixa_retries(client, issued_key):
    body = samples.encode(samples.event("ConversationClosed"))
    with mock.patch.object(
        ingest,
        "inbound_event_record",
        side_effect=OperationalError("server closed the connection"),
    ):
        response = post(client, body, issued_key.plaintext)
    assert response.status_code == 503
    assert response["Retry-After"] == "60"


def test_an_unexpected_error_is_a_500_logged_as_django_logs_it(client, issued_key, caplog):
    client.raise_request_exception = False
    body = samples.encode(samples.event("ConversationClosed"))
    with mock.patch.object(views, "delivery_receive", side_effect=RuntimeError("bug")):
        response = post(client, body, issued_key.plaintext)
    assert response.status_code == 500
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert (record.levelname, record.getMessage()) == ("ERROR", f"Internal Server Error: {URL}")
    assert record.exc_info[1].args == ("bug",)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_after_the_database_drops_the_connection_one_503_then_deliveries_resume(
    issued_key, settings, monkeypatch
):
    # given a server that keeps its connection (as deployed) and has stored a delivery on
    # it, with the key and secret cached so that the next statement there is the INSERT
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    settings.AUTH_CACHE_SECONDS = 60
    from config.wsgi import application

    server = WsgiClient(application, keep_connection=False)
    first, second = (samples.encode(samples.event("ConversationClosed")) for _ in range(2))
    assert post(server, first, issued_key.plaintext).status_code == 202
    # when PostgreSQL ends that connection (a restart, a failover)
    killer = connections.create_connection(DEFAULT_DB_ALIAS)
    with killer.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])
    killer.close()
    # then the next delivery is told to retry, and its retry is stored on a new connection
    retry_later = post(server, second, issued_key.plaintext)
    assert (retry_later.status_code, retry_later["Retry-After"]) == (503, "60")
    assert post(server, second, issued_key.plaintext).status_code == 202
    assert InboundEvent.objects.count() == 2


def test_ingest_leaves_the_broker_alone_and_the_event_to_the_dispatcher(client, issued_key):
    # given a broker that would fail any publish
    body = samples.encode(samples.event("ConversationClosed"))
    with mock.patch(
        "integrations.tasks.process_inbound_events.apply_async",
        side_effect=ConnectionError("redis down"),
    ) as apply_async:
        # when a delivery and its repeat arrive
        response = post(client, body, issued_key.plaintext)
        repeat = post(client, body, issued_key.plaintext)
    # then both are answered without a publish; the event awaits the dispatcher
    assert (response.status_code, repeat.status_code) == (202, 200)
    apply_async.assert_not_called()
    event = InboundEvent.objects.get()
    assert (event.status, event.queued_at) == (InboundEvent.Status.RECEIVED, None)


def test_a_chunked_body_without_content_length_is_411_and_kept(client, issued_key):
    # given a body sent chunked: the server hands it over without a Content-Length
    body = samples.encode(samples.event("ConversationClosed"))
    response = post(
        client, body, issued_key.plaintext, CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked"
    )
    # then it is refused with a reason, not read as empty, and the refusal is kept
    assert response.status_code == 411
    assert response.json()["error"] == "length_required"
    assert "Content-Length" in response.json()["detail"]
    assert RejectedDelivery.objects.get().status_code == 411
    assert not InboundEvent.objects.exists()


@pytest.mark.parametrize(
    "meta, length",
    [
        ({"CONTENT_LENGTH": "12"}, 12),
        ({"CONTENT_LENGTH": "0"}, 0),
        ({}, 0),
        ({"CONTENT_LENGTH": "-5"}, 0),
        ({"CONTENT_LENGTH": "twelve"}, 0),
        ({"CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "chunked"}, None),
    ],
)
def test_the_declared_length_is_content_length_as_django_reads_it(meta, length):
    # None only for a body sent without a Content-Length (chunked)
    assert views.declared_length(meta) == length


@pytest.mark.django_db(transaction=True)
def test_a_body_shorter_than_its_content_length_is_refused(issued_key):
    # given a client that declared 1000 bytes and hung up after fewer
    from config.wsgi import application

    body = samples.encode(samples.event("ConversationClosed"))
    server = WsgiClient(application)
    response = post(
        server,
        body,
        issued_key.plaintext,
        CONTENT_LENGTH=str(len(body) + 100),
        **{"wsgi.input": io.BytesIO(body)},
    )
    # then nothing is acknowledged: Dixa sends it again
    assert response.status_code == 400
    assert response.json()["error"] == "incomplete_body"
    assert not InboundEvent.objects.exists()


def test_a_declared_size_beyond_any_column_is_413_not_500(client, issued_key, settings):
    body = b'{"event_id": "x"}'
    response = post(
        client,
        body,
        issued_key.plaintext,
        CONTENT_LENGTH=str(10**30),
        **{"wsgi.input": io.BytesIO(body)},
    )
    assert response.status_code == 413
    rejected = RejectedDelivery.objects.get()
    assert rejected.body_truncated and rejected.body_size == 2**31 - 1


def test_rejected_deliveries_are_kept_bounded_per_key_and_minute(client, issued_key, settings):
    # given a sender with a valid key and a broken signature, sending big bodies fast
    settings.REJECTED_KEEP_PER_MINUTE = 3
    SigningSecretFactory(account=issued_key.api_key.account, secret=SECRET)
    body = samples.encode(samples.event("ConversationClosed")) + b" " * 20_000
    # when it sends five
    codes = [post(client, body, issued_key.plaintext, sig="t=1,v1=00").status_code for _ in "12345"]
    # then every one is refused, three are kept, each only its head
    assert codes == [401] * 5
    kept = RejectedDelivery.objects.all()
    assert kept.count() == 3
    assert all(len(bytes(r.raw_body)) == settings.REJECTED_BODY_KEEP_BYTES for r in kept)
    assert all(r.body_size == len(body) and r.body_truncated for r in kept)


def test_the_limit_on_kept_refusals_starts_over_after_a_minute(
    client, issued_key, settings, caplog
):
    # given a key whose refusals used up the minute's allowance at 12:00
    settings.REJECTED_KEEP_PER_MINUTE = 2
    with time_machine.travel("2026-11-22 12:00:00Z", tick=False):
        for _ in range(3):
            post(client, b"[1]", issued_key.plaintext)
    assert RejectedDelivery.objects.count() == 2
    assert [r.getMessage() for r in caplog.records if r.name == ingest.logger.name] == [
        f"rejected delivery not kept: key {issued_key.api_key.prefix} is over its limit"
    ]
    # when the next refusal comes a minute and a second later
    with time_machine.travel("2026-11-22 12:01:01Z", tick=False):
        post(client, b"[1]", issued_key.plaintext)
    # then it is kept again
    assert RejectedDelivery.objects.count() == 3

"""Dixa or nps.today does not answer: every client call says which address it tried (scheme,
host and port; never a user, password, path, query or key) and why, in words, not the name
of a Python exception. Stubbed with respx, and once against a real closed port."""

import errno
import socket
import ssl

import httpx
import pytest
import respx

from integrations.clients import dixa, npstoday
from integrations.clients.http import ApiUnavailable, no_answer, origin
from integrations.services.connection_checks import npstoday_key_check
from tests.support.processes import free_port

NPS = "https://api.nps.example"
DIXA = "https://dixa.example"
KEY = "nps-s3cret-key"
TOKEN = "dixa-s3cret-token"
HOOK = "https://relay.example/api/npstoday/responses/prh_s3cret"


@pytest.fixture
def apis(settings):
    settings.NPSTODAY_API_URL, settings.DIXA_API_URL = NPS, DIXA
    settings.REDIS_URL = ""  # Dixa's webhook calls wait for a rate-limit slot: in memory
    with respx.mock(assert_all_called=False) as router:
        yield router


def refused() -> httpx.HTTPError:
    return httpx.ConnectError("[Errno 111] Connection refused")


REASONS = {  # id: (httpx's error, its text, the reason said)
    "unknown-host": (
        httpx.ConnectError,
        "[Errno -2] Name or service not known",
        "the host name could not be resolved",
    ),
    "no-dns": (
        httpx.ConnectError,
        "[Errno -3] Temporary failure in name resolution",
        "the host name could not be resolved (no DNS answer)",
    ),
    "refused": (httpx.ConnectError, "[Errno 111] Connection refused", "the connection was refused"),
    "no-network": (
        httpx.ConnectError,
        "[Errno 101] Network is unreachable",
        "the network is unreachable",
    ),
    "connect-timeout": (httpx.ConnectTimeout, "timed out", "no connection within 5 s"),
    "read-timeout": (httpx.ReadTimeout, "timed out", "no answer within 5 s"),
    "certificate": (
        httpx.ConnectError,
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed (_ssl.c:1006)",
        "TLS handshake failed (certificate not accepted)",
    ),
    "tls": (
        httpx.ConnectError,
        "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)",
        "TLS handshake failed",
    ),
    "disconnected": (
        httpx.RemoteProtocolError,
        "Server disconnected without sending a response.",
        "the connection closed without a valid answer",
    ),
    "other": (httpx.ConnectError, "?", "the connection failed"),
}


@pytest.mark.parametrize(("kind", "text", "reason"), REASONS.values(), ids=REASONS.keys())
def test_no_answer_names_the_host_and_the_reason(apis, kind, text, reason):
    # given nps.today failing the way the network does
    apis.get(f"{NPS}/campaigns/").mock(side_effect=kind(text))
    # when the campaigns are listed
    with pytest.raises(ApiUnavailable) as raised:
        npstoday.list_campaigns(KEY)
    # then the message names the address tried and why, and there was no answer
    assert str(raised.value) == f"nps.today ({NPS}) did not answer: {reason}"
    assert raised.value.status is None


@pytest.mark.parametrize(
    ("cause", "reason"),
    [
        (socket.gaierror(socket.EAI_NONAME, "?"), "the host name could not be resolved"),
        (
            socket.gaierror(socket.EAI_AGAIN, "?"),
            "the host name could not be resolved (no DNS answer)",
        ),
        (ConnectionRefusedError(errno.ECONNREFUSED, "?"), "the connection was refused"),
        (ConnectionResetError(errno.ECONNRESET, "?"), "the connection was reset"),
        (OSError(errno.ENETUNREACH, "?"), "the network is unreachable"),
        (OSError(errno.EHOSTUNREACH, "?"), "the host is unreachable"),
        (ssl.SSLCertVerificationError(1, "?"), "TLS handshake failed (certificate not accepted)"),
        (ssl.SSLError(1, "?"), "TLS handshake failed"),
    ],
)
def test_the_reason_is_read_from_the_sockets_error(cause, reason):
    # given httpx's error as httpx raises it: from httpcore's, from the socket's
    request = httpx.Request("GET", f"{NPS}/campaigns/?apikey={KEY}")
    inner = httpx.ConnectError("?")  # stands for httpcore's
    inner.__cause__ = cause
    exc = httpx.ConnectError("?", request=request)
    exc.__cause__ = inner
    # then
    assert no_answer("nps.today", exc) == f"nps.today ({NPS}) did not answer: {reason}"


CALLS = [
    pytest.param("Dixa", DIXA, lambda: dixa.list_queues(TOKEN), id="dixa-queues"),
    pytest.param("Dixa", DIXA, lambda: dixa.get_conversation(TOKEN, 7), id="dixa-conversation"),
    pytest.param(
        "Dixa",
        DIXA,
        lambda: dixa.patch_custom_attributes(TOKEN, 7, {"a": "b"}),
        id="dixa-attributes",
    ),
    pytest.param("Dixa", DIXA, lambda: dixa.webhook_list(TOKEN), id="dixa-webhooks"),
    pytest.param(
        "Dixa", DIXA, lambda: dixa.webhook_create(TOKEN, {"url": HOOK}), id="dixa-webhook-create"
    ),
    pytest.param("nps.today", NPS, lambda: npstoday.list_campaigns(KEY), id="npstoday-campaigns"),
    pytest.param(
        "nps.today",
        NPS,
        lambda: npstoday.subscribe_responses(KEY, 7232, HOOK),
        id="npstoday-subscribe",
    ),
    pytest.param(
        "nps.today",
        NPS,
        lambda: npstoday.delete_subscription(KEY, "sub-9"),
        id="npstoday-unsubscribe",
    ),
]


@pytest.mark.parametrize(("service", "base", "call"), CALLS)
def test_every_client_call_says_the_same_without_a_secret(apis, service, base, call):
    # given neither API taking connections
    apis.route(host="dixa.example").mock(side_effect=refused())
    apis.route(host="api.nps.example").mock(side_effect=refused())
    # when the call is made
    with pytest.raises(ApiUnavailable) as raised:
        call()
    # then it says which host refused, and nothing of the path, the key or our hook's secret
    message = str(raised.value)
    assert message == f"{service} ({base}) did not answer: the connection was refused"
    for secret in (KEY, TOKEN, "prh_s3cret", "/v1", "/beta", "/campaigns", "/webhooks"):
        assert secret not in message


def test_only_scheme_host_and_port_of_the_setting_are_shown(apis, settings):
    # given an address with a user, a password and a secret in its path
    settings.NPSTODAY_API_URL = "https://relay:pa55word@api.nps.example:8443/tenant/s3cret"
    apis.route(host="api.nps.example").mock(side_effect=httpx.ConnectTimeout("timed out"))
    # when
    check = npstoday_key_check(KEY)
    # then the Test connection sentence holds the host and port only
    assert check.message == (
        "nps.today (https://api.nps.example:8443) did not answer: no connection within 5 s."
    )
    for secret in ("relay", "pa55word", "tenant", "s3cret", KEY):
        assert secret not in check.message


def test_a_closed_port_is_a_refused_connection(settings):
    # given nps.today's address pointing at a local port nobody listens on
    port = free_port()
    settings.NPSTODAY_API_URL = f"http://127.0.0.1:{port}/hooks/s3cret"
    # when the account's key is tested
    check = npstoday_key_check(KEY)
    # then the sentence names the address and the refusal; no save-anyway refusal of the key
    assert check.message == (
        f"nps.today (http://127.0.0.1:{port}) did not answer: the connection was refused."
    )
    assert not check.ok and not check.refused
    assert "s3cret" not in check.message and KEY not in check.message


def test_an_address_that_is_not_http_says_so(settings):
    # given a setting with another scheme (no network is asked)
    settings.DIXA_API_URL = "ftp://dixa.example/v1"
    # when
    with pytest.raises(ApiUnavailable) as raised:
        dixa.list_queues(TOKEN)
    # then
    assert str(raised.value) == (
        "Dixa (ftp://dixa.example) did not answer: the address does not start with http:// or "
        "https://"
    )


def test_an_address_without_a_scheme_is_named_by_its_host_part():
    # given a request httpx refused before sending it (the setting lacks "https://")
    exc = httpx.UnsupportedProtocol("Request URL is missing an 'http://' or 'https://' protocol.")
    # then the address typed is named up to its path, never its query
    assert no_answer("Dixa", exc, "dixa.example/v1?key=s3cret") == (
        "Dixa (dixa.example) did not answer: the address does not start with http:// or https://"
    )


def test_an_answer_that_is_not_json_says_so_with_the_host(apis):
    apis.get(f"{NPS}/campaigns/").mock(return_value=httpx.Response(200, text="<html>"))
    assert npstoday_key_check(KEY).message == f"nps.today ({NPS}) answered without JSON."


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://api.nps.today", "https://api.nps.today"),
        ("https://api.nps.today:443/v1", "https://api.nps.today"),
        ("http://u:p@Host.Example:8080/a/b?apikey=k#f", "http://host.example:8080"),
        ("http://[::1]:8000/x", "http://[::1]:8000"),
        ("api.nps.today/v1?apikey=k", "api.nps.today"),
        ("user:pw@api.nps.today/x", "api.nps.today"),
        ("relay:pa55/word@api.nps.example/tenant", "api.nps.example"),
        ("relay:5555/word@api.nps.example:8443/x", "api.nps.example:8443"),
        ("not a host at all", ""),
    ],
)
def test_origin_is_scheme_host_and_port_only(url, shown):
    assert origin(url) == shown

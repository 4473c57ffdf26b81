"""The WSGI entry point's fast path for Dixa's deliveries. What the endpoint answers is
tested through both paths in test_ingest_api.py; this is what only the fast path does."""

import importlib

import pytest
from django.conf import settings as django_settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started

from integrations.api.fast_path import RelayFastPath
from integrations.dixa import samples
from integrations.models import InboundEvent
from tests.support.wsgi_client import WsgiClient

pytestmark = pytest.mark.django_db
URL = "/api/dixa/relay"
seen_by_middleware: list[tuple[str, str]] = []


class RecordingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        seen_by_middleware.append((request.method, request.path))
        return self.get_response(request)


def _post(client, key, **extra):
    body = samples.encode(samples.event("ConversationClosed"))
    return client.post(
        URL, data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}", **extra
    )


@pytest.fixture
def fast_client(settings):
    settings.MIDDLEWARE = [*django_settings.MIDDLEWARE, f"{__name__}.RecordingMiddleware"]
    seen_by_middleware.clear()
    return WsgiClient(RelayFastPath(WSGIHandler()))


def test_deliveries_skip_the_middleware_and_everything_else_takes_it(fast_client, issued_key):
    # when a delivery, a GET of the same URL and another page are requested
    delivered = _post(fast_client, issued_key.plaintext)
    fast_client.get(URL)
    fast_client.get("/healthz")
    # then only the delivery went past the middleware, and it was stored
    assert delivered.status_code == 202
    assert InboundEvent.objects.count() == 1
    assert seen_by_middleware == [("GET", URL), ("GET", "/healthz")]


def test_a_host_outside_allowed_hosts_is_left_to_django_which_refuses_it(
    fast_client, issued_key, caplog, settings
):
    settings.ALLOWED_HOSTS = ["testserver"]
    fast_client = WsgiClient(RelayFastPath(WSGIHandler()))  # reads the setting when made
    for _ in range(2):  # the second time from the remembered verdict
        response = _post(fast_client, issued_key.plaintext, HTTP_HOST="evil.example")
        assert response.status_code == 400
    assert not InboundEvent.objects.exists()
    assert seen_by_middleware == []  # CommonMiddleware's host check refused it first
    assert _post(fast_client, issued_key.plaintext).status_code == 202  # testserver is allowed
    assert any(r.name == "django.security.DisallowedHost" for r in caplog.records)


def test_plain_http_is_redirected_when_ssl_redirect_is_on(issued_key, settings):
    settings.SECURE_SSL_REDIRECT = True  # read when the middleware is made
    response = _post(WsgiClient(RelayFastPath(WSGIHandler())), issued_key.plaintext)
    assert response.status_code == 301
    assert response["Location"] == f"https://testserver{URL}"
    assert not InboundEvent.objects.exists()


def test_behind_a_tls_proxy_deliveries_get_django_security_headers(issued_key, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    client = WsgiClient(RelayFastPath(WSGIHandler()))
    response = _post(client, issued_key.plaintext, HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 202
    assert response["Strict-Transport-Security"] == "max-age=3600"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_made_up_hosts_do_not_grow_the_remembered_verdicts_without_bound(issued_key):
    app = RelayFastPath(WSGIHandler())
    client = WsgiClient(app)
    for n in range(300):
        client.post(URL, data=b"{}", content_type="application/json", HTTP_HOST=f"h{n}.example")
    assert 0 < len(app.verdicts) <= 256


def test_request_signals_are_sent_so_database_connections_are_managed_as_by_django(
    issued_key,
):
    # given receivers on the signals Django's connection handling listens to
    sent = []

    def started(**kwargs):
        sent.append("started")

    def finished(**kwargs):
        sent.append("finished")

    request_started.connect(started)
    request_finished.connect(finished)
    try:
        # when one delivery is served by the fast path
        response = _post(WsgiClient(RelayFastPath(WSGIHandler())), issued_key.plaintext)
    finally:
        request_started.disconnect(started)
        request_finished.disconnect(finished)
    # then each was sent once, finished after the response was complete
    assert response.status_code == 202
    assert sent == ["started", "finished"]


def test_the_entry_point_serves_deliveries_by_the_fast_path_unless_turned_off(settings):
    import config.wsgi

    try:
        assert isinstance(config.wsgi.application, RelayFastPath)
        settings.INGEST_FAST_PATH = False
        assert isinstance(importlib.reload(config.wsgi).application, WSGIHandler)
    finally:
        settings.INGEST_FAST_PATH = True
        importlib.reload(config.wsgi)

"""Dixa's deliveries are answered straight from the WSGI environ, past Django's handler.

`POST /api/dixa/relay` is called by a machine: it carries no session, cookie, CSRF token
or user, and renders no template. Through Django's handler, middleware stack and URL
resolver it spent more CPU on that machinery than on its own work (docs/ingest.md,
Performance). So the platform's WSGI entry point wraps Django: a delivery goes to the
same `relay_reply` as the Django view, with what Django's handler does that matters here:

- the `request_started` / `request_finished` signals, so that database connections are
  reused, checked and closed as for any other request;
- Django's own host check (ALLOWED_HOSTS) and HTTPS detection, and SecurityMiddleware's
  headers, worked out by Django once per distinct Host / scheme and then reused;
- for refusals and errors, Django's response objects, its `django.request` log lines, its
  500 handling, and the 503 for a database outage.

Whatever this path is not sure of goes to Django untouched: other paths and methods, a Host
that ALLOWED_HOSTS refuses (Django answers 400), plain HTTP when SECURE_SSL_REDIRECT is on
(Django redirects). Like Django's middleware, it reads its settings when it is made.
`INGEST_FAST_PATH=0` turns it off, for a deployment that adds middleware the relay endpoint
must pass through.
"""

import json
from http import HTTPStatus

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.exception import response_for_exception
from django.core.handlers.wsgi import LimitedStream, WSGIRequest, get_script_name
from django.core.signals import request_finished, request_started
from django.http import HttpResponse, JsonResponse
from django.middleware.security import SecurityMiddleware
from django.urls import reverse, set_script_prefix
from django.utils.log import log_response

from integrations.api.relay import Reply, declared_length, relay_reply
from integrations.middleware import database_unavailable_response

# What Django's host check and HTTPS detection read from the environ.
_ADMISSION_KEYS = ("HTTP_HOST", "HTTP_X_FORWARDED_HOST", "SERVER_NAME", "SERVER_PORT")
# Verdicts remembered; made-up Host headers beyond this only clear the memory.
_MAX_REMEMBERED = 256


class RelayFastPath:
    def __init__(self, django_app):
        self.django_app = django_app
        self.path = reverse("dixa-relay")
        self.security = SecurityMiddleware(_not_called)
        proxy_header = (settings.SECURE_PROXY_SSL_HEADER or (None,))[0]
        self.admission_keys = (*_ADMISSION_KEYS, "wsgi.url_scheme", proxy_header)
        self.verdicts: dict[tuple, list[tuple[str, str]] | None] = {}

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != self.path or environ.get("REQUEST_METHOD") != "POST":
            return self.django_app(environ, start_response)
        security_headers = self._admit(environ)
        if security_headers is None:
            return self.django_app(environ, start_response)

        request_started.send(sender=self.__class__, environ=environ)
        try:
            reply = relay_reply(
                environ, LimitedStream(environ["wsgi.input"], declared_length(environ)).read
            )
        except Exception as exc:  # noqa: BLE001 - answered as Django's handler would
            return self._django_response(environ, start_response, exception=exc)
        if reply.status >= 400:
            return self._django_response(environ, start_response, reply=reply)

        body = json.dumps(reply.body).encode()
        start_response(
            f"{reply.status} {HTTPStatus(reply.status).phrase}",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                *security_headers,
            ],
        )
        return _Body(body)

    def _admit(self, environ) -> list[tuple[str, str]] | None:
        """SecurityMiddleware's headers for this request, or None to leave it to Django."""
        key = tuple(environ.get(name) for name in self.admission_keys)
        try:
            return self.verdicts[key]
        except KeyError:
            pass
        if len(self.verdicts) >= _MAX_REMEMBERED:
            self.verdicts.clear()
        verdict = self.verdicts[key] = self._verdict(WSGIRequest(environ))
        return verdict

    def _verdict(self, request) -> list[tuple[str, str]] | None:
        try:
            request.get_host()
        except DisallowedHost:
            return None
        if self.security.redirect and not request.is_secure():
            return None
        probe = self.security.process_response(request, HttpResponse())
        return [(name, value) for name, value in probe.items() if name != "Content-Type"]

    def _django_response(
        self,
        environ,
        start_response,
        *,
        reply: Reply | None = None,
        exception: Exception | None = None,
    ):
        """Refusals and errors: Django's response objects, log lines and headers, as under
        Django's handler. Rare, so not made cheap."""
        request = WSGIRequest(environ)
        if exception is not None:
            set_script_prefix(get_script_name(environ))
            response = database_unavailable_response(exception) or response_for_exception(
                request, exception
            )
        else:
            response = JsonResponse(reply.body, status=reply.status, headers=reply.headers)
        response = self.security.process_response(request, response)
        response.headers.setdefault("Content-Length", str(len(response.content)))
        log_response(
            "%s: %s", response.reason_phrase, request.path, response=response, request=request
        )
        # As Django's WSGIHandler: the server's close() on the response sends
        # request_finished.
        response._handler_class = self.__class__
        response._resource_closers.append(request.close)
        start_response(f"{response.status_code} {response.reason_phrase}", [*response.items()])
        return response


class _Body(list):
    """A delivery's acknowledgement. The server's close() ends the request as a Django
    response's would, with request_finished (the database connection is returned or closed)."""

    def __init__(self, content: bytes):
        super().__init__([content])

    def close(self):
        request_finished.send(sender=RelayFastPath)


def _not_called(request):
    raise AssertionError("SecurityMiddleware is used for its hooks only")

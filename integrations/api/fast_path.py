"""Dixa's deliveries go straight to their view, past the browser middleware.

`POST /api/dixa/relay` is called by a machine: it carries no session, cookie, CSRF token
or user, and renders no template. Through Django's whole middleware stack and URL
resolver it spent more CPU on sessions, messages, CSRF and routing than on its own work
(docs/ingest.md, Performance). So the platform's WSGI entry point wraps Django: a
delivery is handed to the same view with what Django's handler does that matters to it
(request signals, so database connections are managed alike; SecurityMiddleware; the
503 for a database outage; Django's own 4xx/5xx logging and error responses).

Whatever this path is not sure of goes to Django untouched: other paths and methods, and
a Host that ALLOWED_HOSTS refuses (Django answers 400 and logs it). `INGEST_FAST_PATH=0`
turns it off, for a deployment that adds middleware the relay endpoint must pass through.
"""

from django.core.exceptions import DisallowedHost
from django.core.handlers.exception import response_for_exception
from django.core.handlers.wsgi import WSGIRequest, get_script_name
from django.core.signals import request_started
from django.middleware.security import SecurityMiddleware
from django.urls import reverse, set_script_prefix
from django.utils.log import log_response

from integrations.api.views import dixa_relay
from integrations.middleware import database_unavailable_response


class RelayFastPath:
    def __init__(self, django_app):
        self.django_app = django_app
        self.path = reverse("dixa-relay")
        self.security = SecurityMiddleware(self._not_called)

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != self.path or environ.get("REQUEST_METHOD") != "POST":
            return self.django_app(environ, start_response)
        request = WSGIRequest(environ)
        try:
            request.get_host()
        except DisallowedHost:
            return self.django_app(environ, start_response)

        set_script_prefix(get_script_name(environ))
        request_started.send(sender=self.__class__, environ=environ)
        response = self.security.process_request(request) or self._view(request)
        response = self.security.process_response(request, response)
        if response.status_code >= 400:
            log_response(
                "%s: %s", response.reason_phrase, request.path, response=response, request=request
            )
        # As Django's WSGIHandler: the server's close() on the response sends
        # request_finished, which returns or closes the database connection.
        response._handler_class = self.__class__
        response._resource_closers.append(request.close)
        start_response(f"{response.status_code} {response.reason_phrase}", [*response.items()])
        return response

    @staticmethod
    def _view(request):
        try:
            return dixa_relay(request)
        except Exception as exc:  # noqa: BLE001 - answered as Django would, below
            return database_unavailable_response(exc) or response_for_exception(request, exc)

    @staticmethod
    def _not_called(request):
        raise AssertionError("SecurityMiddleware is used for its hooks only")

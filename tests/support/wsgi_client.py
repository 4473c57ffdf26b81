"""Django's test client driving the platform's WSGI application (`config.wsgi`) as a WSGI
server does: the response is closed, so the request signals manage the database
connection as in production (Django's own test client leaves it alone)."""

from django.core.handlers.wsgi import WSGIRequest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.http import HttpResponse
from django.test import Client


class WsgiClient(Client):
    """`keep_connection`: as Django's test client, the request signals leave the database
    connection alone (it holds the test's transaction). False: they manage it as in a
    server, for tests with `transaction=True`."""

    def __init__(self, app, *, keep_connection=True, **defaults):
        super().__init__(**defaults)
        self.handler = _WsgiHandler(app, keep_connection)


class _WsgiHandler:
    def __init__(self, app, keep_connection: bool):
        self.app = app
        self.keep_connection = keep_connection

    def __call__(self, environ) -> HttpResponse:
        started = {}

        def start_response(status, headers, exc_info=None):
            started.update(status=status, headers=headers)

        if self.keep_connection:
            request_started.disconnect(close_old_connections)
            request_finished.disconnect(close_old_connections)
        try:
            result = self.app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        finally:
            if self.keep_connection:
                request_started.connect(close_old_connections)
                request_finished.connect(close_old_connections)

        response = HttpResponse(body, status=int(started["status"].split(" ", 1)[0]))
        for name, value in started["headers"]:
            response[name] = value
        response.wsgi_request = WSGIRequest(environ)
        return response

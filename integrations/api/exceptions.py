"""Every error of the platform's APIs is JSON `{"error": code, "detail": reason}`."""

from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.views import exception_handler

from integrations.middleware import database_unavailable_response


def api_exception_handler(exc, context):
    if isinstance(exc, OperationalError | InterfaceError):
        return database_unavailable_response(exc)  # 503 + Retry-After: Dixa retries
    # Django's own (a lookup by a malformed id raises Http404): DRF answers them as its own.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django's handler answers 500 and logs it
    detail = getattr(exc, "detail", None)
    if isinstance(detail, dict | list):  # field errors of a serializer
        response.data = {"error": "invalid", "detail": detail}
    else:
        response.data = {"error": exc.get_codes(), "detail": str(detail)}
    return response

import logging

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse

logger = logging.getLogger(__name__)


def database_unavailable_response(exception: Exception) -> JsonResponse | None:
    """An unreachable database is an outage: 503 so that Dixa retries later. None for any
    other exception."""
    if not isinstance(exception, OperationalError | InterfaceError):
        return None
    logger.error("database unavailable: %s", exception)
    return JsonResponse(
        {"error": "service_unavailable", "detail": "database unavailable; retry later"},
        status=503,
        headers={"Retry-After": "60"},
    )


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        return database_unavailable_response(exception)

import logging

from django.db import InterfaceError, OperationalError
from django.http import JsonResponse

logger = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    """An unreachable database is an outage: answer 503 so that Dixa retries later."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, OperationalError | InterfaceError):
            logger.error("database unavailable: %s", exception)
            return JsonResponse(
                {"error": "service_unavailable", "detail": "database unavailable; retry later"},
                status=503,
                headers={"Retry-After": "60"},
            )
        return None

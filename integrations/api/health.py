"""Liveness and readiness. Readiness fails only for the database: ingest works without Redis.
Each check answers its state and a generic reason only; the details are logged."""

from django.http import HttpResponse, JsonResponse

from integrations.selectors.health import broker_state, cache_state, database_state


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


def readyz(request):
    checks = {"database": database_state(), "broker": broker_state(), "cache": cache_state()}
    ready = checks["database"]["status"] == "up"
    return JsonResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )

"""`GET /metrics` for Prometheus: a bearer token (`METRICS_TOKEN`) or an address on the
allow-list (`METRICS_ALLOWED_IPS`); with neither set, only this machine may scrape."""

import ipaddress
import secrets

from django.conf import settings
from django.http import HttpResponse
from rest_framework.permissions import BasePermission
from rest_framework.views import APIView

from integrations.metrics import metrics_render

LOOPBACK = ("127.0.0.0/8", "::1/128")


class MayScrape(BasePermission):
    message = "Scrape with the METRICS_TOKEN as a bearer token, or from an allowed address."

    def has_permission(self, request, view) -> bool:
        token = settings.METRICS_TOKEN
        given = request.headers.get("Authorization", "")
        if token and secrets.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return True
        allowed = settings.METRICS_ALLOWED_IPS or ([] if token else list(LOOPBACK))
        return _address_in(request.META.get("REMOTE_ADDR", ""), allowed)


def _address_in(address: str, networks: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(network, strict=False) for network in networks)


class MetricsView(APIView):
    authentication_classes: list = []
    permission_classes = [MayScrape]
    http_method_names = ["get"]

    def get(self, request):
        body, content_type = metrics_render()
        return HttpResponse(body, content_type=content_type)

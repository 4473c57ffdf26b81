"""Where an alert webhook may point. An account admin types the URL and the workers POST to
it, so in production it must be https and reach the internet only: a URL that resolves to
this network (loopback, private, link-local such as a cloud's metadata service) is refused
when it is saved and again before every send, as DNS may have changed in between."""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


def webhook_refusal(url: str) -> str | None:
    """Why alerts will not be POSTed to `url`, in a sentence; None when they may be."""
    parts = urlsplit(url)
    if settings.ALERT_WEBHOOK_HTTPS_ONLY and parts.scheme != "https":
        return "the webhook URL must be https"
    if settings.ALERT_WEBHOOK_INTERNAL_ALLOWED:
        return None
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError, UnicodeError):
        return f"the webhook's host {host!r} does not resolve"
    for *_, address in found:
        ip = ipaddress.ip_address(address[0].split("%", 1)[0])
        if not ip.is_global:
            return f"the webhook's host {host!r} is an internal address ({ip})"
    return None

"""Our URLs as given to Dixa and nps.today: on the PUBLIC_URL setting when it is set (behind
a proxy the request's own address may be an internal one), else on the address the admin's
request came to."""

from django.conf import settings
from django.http import HttpRequest


def public_base(request: HttpRequest | None = None) -> str:
    """PUBLIC_URL, or `request`'s address when PUBLIC_URL is unset ("" without a request),
    without its trailing slash."""
    base = settings.PUBLIC_URL or (request.build_absolute_uri("/") if request else "")
    return base.rstrip("/")


def public_url(path: str, request: HttpRequest | None = None) -> str:
    """`path` on PUBLIC_URL, or on `request`'s address when PUBLIC_URL is unset (without a
    request: the path alone)."""
    return public_base(request) + path

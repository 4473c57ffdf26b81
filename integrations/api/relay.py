"""What `POST /api/dixa/relay` answers, apart from how the request arrived: the Django
view (`views.dixa_relay`) and the WSGI fast path (`fast_path`) both answer with this."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from django.conf import settings

from integrations.api.auth import AuthenticationFailed, authenticate
from integrations.services.ingest import delivery_receive, kept_headers, rejected_delivery_record


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict
    headers: dict[str, str] = field(default_factory=dict)


def _error(status: int, code: str, detail: str, **headers) -> Reply:
    return Reply(status, {"error": code, "detail": detail}, headers)


def declared_length(meta: Mapping) -> int:
    """The request's Content-Length, read as WSGIRequest reads it (unusable: 0)."""
    try:
        return int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def relay_reply(meta: Mapping, read: Callable[..., bytes]) -> Reply:
    """`meta`: the request's WSGI environ (Django's `request.META`); `read`: its body
    stream's read, bounded by Content-Length."""
    if meta.get("REQUEST_METHOD") != "POST":
        return _error(405, "method_not_allowed", "send deliveries with POST", Allow="POST")
    try:
        api_key = authenticate(meta)
    except AuthenticationFailed as exc:
        return _error(401, exc.code, exc.detail, **{"WWW-Authenticate": 'Bearer realm="relay"'})

    headers = kept_headers(meta)
    limit = settings.DIXA_MAX_BODY_BYTES
    declared = declared_length(meta)
    if declared > limit:
        head = read(settings.REJECTED_BODY_KEEP_BYTES)
        reason = f"body is {declared} bytes; the limit is {limit}"
        rejected_delivery_record(
            account=api_key.account,
            status_code=413,
            reason=reason,
            body=head,
            body_size=declared,
            headers=headers,
        )
        return _error(413, "payload_too_large", reason)

    receipt = delivery_receive(api_key=api_key, body=read(), headers=headers)
    return Reply(receipt.status_code, receipt.body)

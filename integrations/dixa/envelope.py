"""Parse a Dixa webhook body into the essentials we index. Both key casings are accepted:
snake_case (Dixa's docs) and camelCase (nps.today's guide)."""

import json
from dataclasses import dataclass
from datetime import datetime

from django.utils.dateparse import parse_datetime

from integrations.dixa import catalogue

MAX_EVENT_ID_LENGTH = 255


class EnvelopeError(ValueError):
    """The body cannot be accepted as a Dixa event; the message says why."""


@dataclass(frozen=True)
class Envelope:
    event_id: str
    event_fqn: str
    event_type: str
    is_known_type: bool
    event_timestamp: datetime | None
    organization_id: str
    csid: int | None
    queue_id: str
    channel: str
    data: dict


def pick(mapping: dict, snake: str, camel: str | None = None):
    """The value under the snake_case key, else under its camelCase twin."""
    if snake in mapping:
        return mapping[snake]
    if camel is None:
        head, *rest = snake.split("_")
        camel = head + "".join(word.title() for word in rest)
    return mapping.get(camel)


def _as_dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _timestamp(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    # Dixa's API sometimes appends a zone name: 2023-01-01T00:00:00Z[GMT].
    try:
        return parse_datetime(value.split("[", 1)[0])
    except ValueError:
        return None


def _text(value, limit: int) -> str:
    """An indexed copy of a value; the raw body keeps the original. NUL characters are
    dropped because PostgreSQL text cannot hold them."""
    return str(value or "").replace("\x00", "")[:limit]


def _csid(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def parse(body: bytes) -> Envelope:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise EnvelopeError(f"body is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise EnvelopeError(f"body must be a JSON object, not {type(document).__name__}")

    event_id = pick(document, "event_id")
    if isinstance(event_id, int) and not isinstance(event_id, bool):
        event_id = str(event_id)
    if not isinstance(event_id, str) or not event_id.strip():
        raise EnvelopeError("event_id (or eventId) is missing or not a string")
    if len(event_id) > MAX_EVENT_ID_LENGTH:
        raise EnvelopeError(f"event_id is longer than {MAX_EVENT_ID_LENGTH} characters")
    if "\x00" in event_id:
        raise EnvelopeError("event_id contains a NUL character")

    event_fqn = pick(document, "event_fqn")
    if not isinstance(event_fqn, str) or not event_fqn.strip():
        raise EnvelopeError("event_fqn (or eventFqn) is missing or not a string")
    if "\x00" in event_fqn:
        raise EnvelopeError("event_fqn contains a NUL character")
    event_fqn = event_fqn.strip()[:100]
    known = catalogue.resolve(event_fqn)

    data = _as_dict(document.get("data"))
    conversation = _as_dict(data.get("conversation"))
    queue = _as_dict(conversation.get("queue")) or _as_dict(data.get("queue"))
    channel = conversation.get("channel")
    return Envelope(
        event_id=event_id,
        event_fqn=event_fqn,
        event_type=known or event_fqn,
        is_known_type=known is not None,
        event_timestamp=_timestamp(pick(document, "event_timestamp")),
        organization_id=_text(_as_dict(document.get("organization")).get("id"), 64),
        csid=_csid(conversation.get("csid")),
        queue_id=_text(queue.get("id"), 64),
        channel=_text(channel, 40) if isinstance(channel, str) else "",
        data=data,
    )

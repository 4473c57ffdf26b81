"""Parse a Dixa webhook body into the essentials we index. Both key casings are accepted:
snake_case (Dixa's docs) and camelCase (nps.today's guide)."""

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from django.utils.dateparse import parse_datetime

from integrations.dixa import catalogue

MAX_EVENT_ID_LENGTH = 255
# The csid column is a PostgreSQL bigint.
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
# event_timestamp is indexed only for instants in these years (UTC); see _timestamp().
TIMESTAMP_YEARS = range(1900, 2201)
MAX_TIMESTAMP_LENGTH = 64
# Lone UTF-16 surrogates: json.loads makes them from escapes such as "\ud800". They have
# no UTF-8 form, so PostgreSQL text cannot hold them (nor NUL).
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


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
    """The instant in UTC, or None unless it falls in TIMESTAMP_YEARS (1900 to 2200) once
    converted to UTC. The bound keeps out what PostgreSQL would store but Python cannot read
    back (year 1 at +05:00 is year 0 in UTC; 9999-12-31 at -05:00 is year 10000), and any
    clock that far off. A value without an offset is read as UTC, as the database reads it.
    Only ASCII digits count: Python's parser also takes "٢٠٢٣" for 2023."""
    if not isinstance(value, str) or not value.isascii() or len(value) > MAX_TIMESTAMP_LENGTH:
        return None
    # Dixa's API sometimes appends a zone name: 2023-01-01T00:00:00Z[GMT].
    try:
        parsed = parse_datetime(value.split("[", 1)[0])
        if parsed is None:
            return None
        moment = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None
    return moment if moment.year in TIMESTAMP_YEARS else None


def storable(text: str) -> str:
    """`text` without what PostgreSQL text and jsonb cannot hold (NUL, unpaired
    surrogates)."""
    return _UNSTORABLE.sub("", text)


def _text(value, limit: int) -> str:
    """An indexed copy of a scalar (text or number); the raw body keeps the original. What
    PostgreSQL text cannot hold (NUL, unpaired surrogates) is dropped."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    return storable(str(value))[:limit]


def _csid(value) -> int | None:
    """The conversation number when a PostgreSQL bigint can hold it, else None. Text counts
    only as ASCII digits (str.isdigit() also takes "²", which int() refuses)."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if BIGINT_MIN <= value <= BIGINT_MAX else None


def _document(body: bytes) -> dict:
    try:
        document = json.loads(body)
    except RecursionError as exc:
        raise EnvelopeError("body is not valid JSON: it is nested too deeply") from exc
    except ValueError as exc:
        # Also UnicodeDecodeError, and integers over Python's 4300-digit limit.
        raise EnvelopeError(f"body is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise EnvelopeError(f"body must be a JSON object, not {type(document).__name__}")
    return document


def _check_storable(value: str, name: str) -> None:
    if "\x00" in value:
        raise EnvelopeError(f"{name} contains a NUL character")
    if _SURROGATE.search(value):
        raise EnvelopeError(f"{name} contains an unpaired surrogate (\\ud800-\\udfff)")


def parse(body: bytes) -> Envelope:
    document = _document(body)
    event_id = pick(document, "event_id")
    if isinstance(event_id, int) and not isinstance(event_id, bool):
        event_id = str(event_id)
    if not isinstance(event_id, str) or not event_id.strip():
        raise EnvelopeError("event_id (or eventId) is missing or not a string")
    if len(event_id) > MAX_EVENT_ID_LENGTH:
        raise EnvelopeError(f"event_id is longer than {MAX_EVENT_ID_LENGTH} characters")
    _check_storable(event_id, "event_id")

    event_fqn = pick(document, "event_fqn")
    if not isinstance(event_fqn, str) or not event_fqn.strip():
        raise EnvelopeError("event_fqn (or eventFqn) is missing or not a string")
    _check_storable(event_fqn, "event_fqn")
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

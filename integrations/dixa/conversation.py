"""Dixa's conversation, as every handler sees it: built once per event from the stored
envelope's `data` (either key casing) and handed to every subscriber of the event."""

from dataclasses import dataclass, field

from integrations.dixa.envelope import Envelope, pick, storable


def _as_dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _text(value) -> str | None:
    """A scalar as text we can store (and send), or None."""
    if value is None or isinstance(value, dict | list | bool):
        return None
    text = storable(str(value)).strip()
    return text or None


@dataclass(frozen=True)
class Person:
    """A requester (the customer) or an assignee (the agent)."""

    id: str | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None

    @classmethod
    def from_data(cls, value) -> "Person | None":
        data = _as_dict(value)
        if not data:
            return None
        return cls(
            id=_text(data.get("id")),
            name=_text(data.get("name")),
            email=_text(data.get("email")),
            phone=_text(data.get("phone")),
        )


@dataclass(frozen=True)
class Conversation:
    csid: int | None
    channel: str
    queue_id: str
    queue_name: str | None
    requester: Person
    assignee: Person | None
    tag_names: tuple[str, ...] = ()
    # Custom attributes as Dixa sent them, by identifier (e.g. "p_gap"), when present.
    custom_attributes: dict = field(default_factory=dict)

    @classmethod
    def from_envelope(cls, envelope: Envelope) -> "Conversation":
        data = envelope.data
        conversation = _as_dict(data.get("conversation"))
        queue = _as_dict(conversation.get("queue")) or _as_dict(data.get("queue"))
        tags = conversation.get("tags") if isinstance(conversation.get("tags"), list) else []
        return cls(
            csid=envelope.csid,
            channel=envelope.channel.upper(),
            queue_id=envelope.queue_id,
            queue_name=_text(queue.get("name")),
            requester=Person.from_data(conversation.get("requester")) or Person(),
            assignee=Person.from_data(conversation.get("assignee")),
            tag_names=tuple(
                name
                for name in (_text(t.get("name") if isinstance(t, dict) else t) for t in tags)
                if name
            ),
            custom_attributes=_custom_attributes(
                pick(conversation, "custom_attributes") or pick(data, "custom_attributes")
            ),
        )

    @property
    def respondent_email(self) -> str | None:
        return self.requester.email

    @property
    def respondent_phone(self) -> str | None:
        return self.requester.phone


def _custom_attributes(value) -> dict:
    """Dixa sends a list of {id, identifier, value}; some payloads a plain mapping."""
    if isinstance(value, dict):
        return dict(value)
    attributes = {}
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict) and isinstance(item.get("identifier"), str):
            attributes[item["identifier"]] = item.get("value")
    return attributes

"""The nps.today campaign member for a closed Dixa conversation, mapped as nps.today's own
Dixa relay maps it (seed 001):

    requester name/phone/email/id -> respondent firstName/phoneNumber/emailAddress/externalId
    assignee name/phone/email     -> employee (responsible) firstName/phoneNumber/email
    csid                          -> campaign member externalId and custom.dixaConversationId
"""

import json
from dataclasses import dataclass

from integrations.dixa.envelope import pick


def _as_dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _text(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _compact(mapping: dict) -> dict:
    return {k: v for k, v in mapping.items() if v is not None}


@dataclass(frozen=True)
class Conversation:
    """What the rules and the member need from the webhook's `data.conversation`."""

    csid: int | None
    channel: str
    requester: dict
    assignee: dict | None
    tag_names: tuple[str, ...]

    @classmethod
    def from_event_data(cls, data: dict) -> "Conversation":
        conversation = _as_dict(data.get("conversation"))
        assignee = conversation.get("assignee")
        tags = conversation.get("tags") or []
        names = tuple(
            str(t.get("name") if isinstance(t, dict) else t) for t in tags if t is not None
        )
        csid = conversation.get("csid")
        return cls(
            csid=int(csid) if isinstance(csid, int | str) and str(csid).isdigit() else None,
            channel=str(conversation.get("channel") or "").upper(),
            requester=_as_dict(conversation.get("requester")),
            assignee=assignee if isinstance(assignee, dict) and assignee else None,
            tag_names=names,
        )

    @property
    def respondent_email(self) -> str | None:
        return _text(self.requester.get("email"))

    @property
    def respondent_phone(self) -> str | None:
        return _text(self.requester.get("phone"))


def campaign_member(conversation: Conversation, *, guid: str) -> dict:
    requester, assignee = conversation.requester, conversation.assignee or {}
    csid = None if conversation.csid is None else str(conversation.csid)
    body = {
        "respondent": _compact(
            {
                "firstName": _text(requester.get("name")),
                "phoneNumber": _text(requester.get("phone")),
                "emailAddress": _text(requester.get("email")),
                "externalId": _text(requester.get("id")),
            }
        ),
        "employee": _compact(
            {
                "firstName": _text(assignee.get("name")),
                "phoneNumber": _text(assignee.get("phone")),
                "email": _text(assignee.get("email")),
            }
        ),
        "externalId": csid,
        "guid": guid,
        # nps.today's connector types `custom` as a string holding JSON.
        "custom": json.dumps({"dixaConversationId": conversation.csid}),
    }
    return _compact(body)


__all__ = ["Conversation", "campaign_member", "pick"]

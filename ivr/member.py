"""The nps.today campaign member for a closed Dixa conversation, mapped as nps.today's own
Dixa relay maps it (seed 001):

    requester name/phone/email/id -> respondent firstName/phoneNumber/emailAddress/externalId
    assignee name/phone/email     -> employee (responsible) firstName/phoneNumber/email
    csid                          -> campaign member externalId and custom.dixaConversationId
"""

import json

from integrations.dixa.conversation import Conversation, Person


def _compact(mapping: dict) -> dict:
    return {k: v for k, v in mapping.items() if v is not None}


def campaign_member(conversation: Conversation, *, guid: str) -> dict:
    requester, assignee = conversation.requester, conversation.assignee or Person()
    csid = None if conversation.csid is None else str(conversation.csid)
    body = {
        "respondent": _compact(
            {
                "firstName": requester.name,
                "phoneNumber": requester.phone,
                "emailAddress": requester.email,
                "externalId": requester.id,
            }
        ),
        "employee": _compact(
            {"firstName": assignee.name, "phoneNumber": assignee.phone, "email": assignee.email}
        ),
        "externalId": csid,
        "guid": guid,
        # nps.today's connector types `custom` as a string holding JSON.
        "custom": json.dumps({"dixaConversationId": conversation.csid}),
    }
    return _compact(body)

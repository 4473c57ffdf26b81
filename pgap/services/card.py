"""The agent's custom card in Dixa (docs/card.md): the answer to the card's call (nps.today's
`token` and `echo`, so nps.today's own template works unchanged, plus our history and
P-GAP), the card's key, and what the admin copies into Dixa's custom-card form."""

import json
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from integrations.dixa.conversation import Person
from integrations.models import Account
from integrations.services.api_keys import IssuedKey, api_key_create
from pgap.models import CardSetup
from pgap.selectors.card import card_agent_pgap, card_customer_surveys
from pgap.services.card_token import card_token_get

CARD_KEY_NAME = "dixa-card"
EMPLOYEE_FIELD = "employeeEmail"
# The card's body as nps.today's guide has Dixa send it, with and without the personal page.
BODY_WITH_PERSONAL_PAGE = {
    EMPLOYEE_FIELD: "{{agent_email}}",
    "customer_email": "{{customer_email}}",
    "customer_phone_number": "{{customer_phone_number}}",
}
BODY_WITHOUT_PERSONAL_PAGE = {
    "customer_email": "{{customer_email}}",
    "customer_phone_number": "{{customer_phone_number}}",
}


@dataclass(frozen=True)
class CardRequest:
    """The card's call, validated: the customer, the assigned agent ("" when the body has
    none) and the body as it came (what nps.today echoes)."""

    customer: Person
    agent_email: str
    body: dict


def card_setup_of(account: Account) -> CardSetup:
    """The account's card setup; the defaults (unsaved) when it has none."""
    return CardSetup.objects.filter(account=account).first() or CardSetup(account=account)


def card_answer(*, account: Account, request: CardRequest) -> dict:
    """What the card renders: `token` and `echo` as nps.today answers them, then ours.
    `feedback.available` is false (with a reason) when nps.today gave no token."""
    setup = card_setup_of(account)
    personal = setup.personal_page and bool(request.agent_email)
    body = dict(request.body)
    if not setup.personal_page:
        body.pop(EMPLOYEE_FIELD, None)  # enforced: nps.today never learns the agent
    token = card_token_get(
        account=account, employee_email=request.agent_email if personal else "", body=body
    )
    surveys = card_customer_surveys(
        account=account, customer=request.customer, limit=setup.history_size
    )
    return {
        "token": token.token,
        "echo": body,
        "title": setup.title,
        "feedback": {
            "available": token.available,
            "reason": token.problem,
            "app_url": settings.NPSTODAY_FEEDBACK_APP_URL,
        },
        "personal_page": personal,
        "customer": {
            "email": request.customer.email or "",
            "phone": request.customer.phone or "",
            "surveyed": bool(surveys),
        },
        "surveys": surveys,
        "pgap": card_agent_pgap(account=account, agent_email=request.agent_email)
        if personal
        else None,
    }


@transaction.atomic
def card_key_issue(*, setup: CardSetup) -> IssuedKey:
    """A new API key of the account for the card (shown once). Earlier card keys stay valid
    until revoked in API keys, so that Dixa keeps working until the new one is pasted."""
    issued = api_key_create(account=setup.account, name=CARD_KEY_NAME)
    CardSetup.objects.update_or_create(account=setup.account, defaults={"api_key": issued.api_key})
    setup.api_key = issued.api_key
    return issued


def card_body_text(*, personal_page: bool) -> str:
    """The card's body for Dixa's Body tab, as nps.today's guide lays it out."""
    body = BODY_WITH_PERSONAL_PAGE if personal_page else BODY_WITHOUT_PERSONAL_PAGE
    return json.dumps(body, indent=4)

"""P-GAP's step in the dashboard's "Getting started" (optional): the account's P-GAP setup
and the agent's card in Dixa. The card's keys are not a way for Dixa to deliver."""

from django.db.models import Exists, OuterRef, Q

from integrations.admin.getting_started import (
    Guide,
    admin_link,
    register_other_keys,
    register_step,
)
from pgap.models import CardSetup, PgapSetup
from pgap.services.card import CARD_KEY_NAME


def _made(model):
    return Exists(model.objects.filter(account=OuterRef("pk")))


def pgap_guide(request, account, done) -> Guide:
    title = "P-GAP and the agent's card in Dixa"
    if account is None or done:
        return Guide(title)
    links = []
    for model, text, made in (
        (PgapSetup, "P-GAP setup", account.getting_started_pgap),
        (CardSetup, "the agent's card", account.getting_started_card),
    ):
        # Both are the account's one row, keyed by the account.
        pk = account.pk if made else None
        links.append(admin_link(request, model, text, account=account, pk=pk, done=made))
    return Guide(title, links, joiner="and")


register_step(
    "pgap",
    order=40,
    done=lambda: Q(_made(PgapSetup)) & Q(_made(CardSetup)),
    guide=pgap_guide,
    adds=(PgapSetup, CardSetup),
    optional=True,
    columns=lambda: {
        "getting_started_pgap": _made(PgapSetup),
        "getting_started_card": _made(CardSetup),
    },
)
register_other_keys(lambda: Q(name=CARD_KEY_NAME))

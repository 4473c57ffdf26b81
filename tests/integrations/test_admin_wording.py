"""The admin's own words: list filter titles read "By <what>" (never "By is known type"),
and Dixa, IVR, P-GAP and nps.today are spelled as their owners spell them in model names,
list titles ("Select Dixa delivery log to view") and filter titles."""

import re

import pytest
from django.apps import apps

from integrations.models import InboundEvent
from tests.integrations.test_admin_scoping import (
    OUR_APPS,
    admin_url,
    our_admins,
    tenants,  # noqa: F401  (fixture)
)
from tests.integrations.test_roles import context_value

pytestmark = pytest.mark.django_db

# A name as Django would show it with a lower-case first letter ("dixa delivery log"), or
# capitalised where its owner writes it in lower case ("Nps.today").
MISSPELT = re.compile(r"\b(dixa|ivr|Ivr|p-gap|P-gap|pgap|Pgap)\b|\b(Nps|NPS)\.today\b")


def misspelt(text: str) -> list[str]:
    return [match.group(0) for match in MISSPELT.finditer(str(text))]


def test_every_model_of_ours_spells_the_products_as_their_owners_do():
    # given every model of our apps, admin or not (their names reach messages and the log)
    names = {
        f"{model._meta.label} {kind}": getattr(model._meta, kind)
        for model in apps.get_models()
        if model._meta.app_label in OUR_APPS
        for kind in ("verbose_name", "verbose_name_plural")
    }
    # then
    assert {where: name for where, name in names.items() if misspelt(name)} == {}
    assert not [name for name in names.values() if re.search(r"[^aeiou]ys$", str(name))]  # bodys


def test_every_list_is_titled_and_filtered_in_plain_words(admin_client, tenants):  # noqa: F811
    # given a superuser, who sees every list and every filter
    for model, _ in our_admins():
        # when the list is opened
        listing = admin_client.get(admin_url(model, "changelist"))
        changelist = context_value(listing, "cl")
        if changelist is None:  # P-GAP analytics: a page of its own
            continue
        label = model._meta.label
        # then its title and each filter's ("By …") read as words, the names spelled right
        assert not misspelt(listing.context["title"]), (label, listing.context["title"])
        for spec in changelist.filter_specs:
            title = str(spec.title)
            assert not re.match(r"(is|has)\b|\w+_\w+", title), (label, title)
            assert not misspelt(title), (label, title)


def test_the_events_list_filters_by_known_event_type(admin_client, tenants):  # noqa: F811
    page = admin_client.get(admin_url(InboundEvent, "changelist")).content.decode()
    assert "By known event type" in page
    assert "By is known type" not in page

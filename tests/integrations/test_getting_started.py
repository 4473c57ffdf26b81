"""The dashboard's "Getting started": a checklist per account of the user's that is not set up
(an account with its nps.today key, a way for Dixa to deliver, a mapping; P-GAP and the card
optional), ticked as the rows appear, gone once done, and never about another account."""

import re
from html import unescape

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from integrations.models import DixaConnection
from integrations.services.api_keys import api_key_create, api_key_revoke
from integrations.services.roles import ACCOUNT_ADMIN, OPERATOR, roles_sync
from pgap.models import CardSetup
from pgap.services.card import card_key_issue
from tests.integrations.factories import AccountFactory, SigningSecretFactory
from tests.ivr.factories import IvrMappingFactory
from tests.pgap.factories import PgapSetupFactory

pytestmark = pytest.mark.django_db
DASHBOARD = reverse("admin:index")
TITLES = (
    "An account with its nps.today API key",
    "A way for Dixa to deliver",
    "A Dixa queue mapped to an nps.today campaign",
    "P-GAP and the agent's card in Dixa",
)


def panel(client) -> str:
    """The Getting started panel's HTML ("" when there is none)."""
    page = client.get(DASHBOARD).content.decode()
    found = re.search(r'<section class="module relay-start".*?</section>', page, re.S)
    return found.group(0) if found else ""


def checklists(client) -> dict[str, list[tuple[bool, str]]]:
    """Per account's name ("" before there is one): each step, (done, its text)."""
    lists = {}
    for block in re.findall(r'<div class="relay-start-list">(.*?)</ol>', panel(client), re.S):
        name = re.search(r"<h3>(.*?)</h3>", block)
        steps = re.findall(
            r'<li class="(done|todo)[^"]*">.*?<span class="relay-step">(.*?)</span>\s*</li>',
            block,
            re.S,
        )
        lists[unescape(name.group(1)) if name else ""] = [
            (state == "done", " ".join(unescape(re.sub(r"<[^>]+>", " ", text)).split()))
            for state, text in steps
        ]
    return lists


def ticks(client, name: str) -> list[bool]:
    return [done for done, _ in checklists(client)[name]]


def set_up(account):
    """Steps 1 to 3 done: the account's nps.today key, an API key for Dixa, a mapping."""
    account.npstoday_api_key = account.npstoday_api_key or "nps-test-key"
    account.save()
    api_key_create(account=account, name="dixa")
    IvrMappingFactory(account=account)
    return account


def user_of(django_user_model, role: str, *accounts, username="ada"):
    roles_sync()
    user = django_user_model.objects.create_user(username, password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    for account in accounts:
        account.members.add(user)
    return user


def test_a_fresh_install_shows_a_superuser_where_to_start(admin_client):
    # given no account at all
    # when a superuser opens the dashboard
    lists = checklists(admin_client)
    page = admin_client.get(DASHBOARD).content.decode()
    # then one checklist, nothing ticked, its first step linked to Accounts → Add
    assert [text for _, text in lists[""]] == [
        f"{TITLES[0]}: Accounts → Add",
        *TITLES[1:3],
        f"Optional: {TITLES[3]}",
    ]
    assert not any(done for done, _ in lists[""])
    assert f'href="{reverse("admin:integrations_account_add")}"' in panel(admin_client)
    # and the banners do not claim that nothing needs attention
    assert "Nothing needs attention." not in page


def test_steps_are_ticked_as_the_rows_appear_and_the_panel_goes_when_done(
    client, django_user_model
):
    # given an account admin of a new account, without its nps.today key
    acme = AccountFactory(name="Acme", npstoday_api_key="")
    client.force_login(user_of(django_user_model, ACCOUNT_ADMIN, acme))
    assert ticks(client, "Acme") == [False, False, False, False]
    steps = dict(enumerate(text for _, text in checklists(client)["Acme"]))
    assert "set the account's nps.today API key" in steps[0]
    assert "Connect Dixa (recommended; needs PUBLIC_URL, not set yet) or an API key" in steps[1]
    panel_html = panel(client)
    for name in ("dixaconnection", "apikey", "ivrmapping", "pgapsetup", "cardsetup"):
        app = "integrations" if name in ("dixaconnection", "apikey") else "ivr"
        app = "pgap" if name.startswith(("pgap", "card")) else app
        assert f'href="{reverse(f"admin:{app}_{name}_add")}?account={acme.pk}"' in panel_html
    assert f'href="{reverse("admin:integrations_account_change", args=[acme.pk])}"' in panel_html

    # when the key is set, then step 1 is ticked
    acme.npstoday_api_key = "nps-test-key"
    acme.save()
    assert ticks(client, "Acme") == [True, False, False, False]

    # a key issued for the agent's card is no way for Dixa to deliver
    card_key_issue(setup=CardSetup.objects.create(account=acme))
    assert ticks(client, "Acme") == [True, False, False, False]
    # a Dixa connection made but not connected yet links to its page
    connection_ = DixaConnection.objects.create(account=acme, api_token="dixa-admin-token")
    change = reverse("admin:integrations_dixaconnection_change", args=[connection_.pk])
    assert f'href="{change}"' in panel(client)
    assert "press Connect / repair on its page" in checklists(client)["Acme"][1][1]
    # an API key for Dixa's webhook form ticks step 2 (a revoked one does not)
    api_key_revoke(api_key=api_key_create(account=acme, name="old").api_key)
    assert ticks(client, "Acme")[1] is False
    api_key_create(account=acme, name="dixa")
    assert ticks(client, "Acme") == [True, True, False, False]

    # P-GAP set up: its part of the optional step is ticked (the card's too)
    PgapSetupFactory(account=acme)
    assert ticks(client, "Acme") == [True, True, False, True]

    # when the first mapping is saved, then every required step is done: no panel
    IvrMappingFactory(account=acme)
    assert panel(client) == ""


def test_the_optional_step_does_not_keep_the_panel(admin_client):
    # given an account with its key, an API key and a mapping, but no P-GAP or card
    acme = set_up(AccountFactory(name="Acme"))
    SigningSecretFactory(account=acme)
    # then the dashboard has no Getting started, and with an account to watch, the banners
    # say that nothing needs attention
    assert panel(admin_client) == ""
    assert "Nothing needs attention." in admin_client.get(DASHBOARD).content.decode()


def test_a_staff_user_sees_only_their_accounts_state(client, django_user_model):
    # given Acme (the user's, not set up) and Globex (another tenant's, not set up either)
    acme = AccountFactory(name="Acme", npstoday_api_key="")
    globex = AccountFactory(name="Globex", npstoday_api_key="nps-globex-key")
    api_key_create(account=globex, name="dixa")
    client.force_login(user_of(django_user_model, ACCOUNT_ADMIN, acme))
    # then only Acme's checklist, with Acme's state
    assert list(checklists(client)) == ["Acme"]
    assert ticks(client, "Acme") == [False, False, False, False]
    assert "Globex" not in panel(client) and f"account={globex.pk}" not in panel(client)

    # when Acme is set up, then no panel, though Globex is not
    set_up(acme)
    assert panel(client) == ""


def test_a_superuser_sees_each_account_not_set_up(admin_client):
    set_up(AccountFactory(name="Done"))
    AccountFactory(name="Beta", npstoday_api_key="")
    AccountFactory(name="Alpha", npstoday_api_key="nps-key")
    lists = checklists(admin_client)
    assert list(lists) == ["Alpha", "Beta"]
    assert [done for done, _ in lists["Alpha"]] == [True, False, False, False]


def test_past_six_accounts_the_others_are_counted(admin_client):
    for n in range(8):
        AccountFactory(name=f"Account {n}", npstoday_api_key="")
    assert len(checklists(admin_client)) == 6
    assert "And 2 more accounts not set up yet" in panel(admin_client)


def test_an_operator_who_may_add_nothing_sees_no_checklist(client, django_user_model):
    acme = AccountFactory(name="Acme", npstoday_api_key="")
    client.force_login(user_of(django_user_model, OPERATOR, acme))
    assert panel(client) == ""


def test_an_account_admin_of_no_account_is_told_who_adds_one(client, django_user_model):
    AccountFactory(name="Globex", npstoday_api_key="")
    client.force_login(user_of(django_user_model, ACCOUNT_ADMIN))
    first = checklists(client)[""][0][1]
    assert "A superuser adds the account and you to its members." in first
    assert "Globex" not in panel(client)
    assert reverse("admin:integrations_account_add") not in panel(client)


def test_the_checklists_queries_do_not_grow_with_the_accounts(admin_client):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            panel(admin_client)
        return len(captured)

    for n in range(8):
        AccountFactory(name=f"Account {n}", npstoday_api_key="")
    before = queries()
    for n in range(8, 30):
        AccountFactory(name=f"Account {n}", npstoday_api_key="")
    assert queries() == before

"""The card's setup page in the admin: Dixa's form ready to copy, the card key issued from the
page (shown once, a working key, audited), the Test, and tenant isolation."""

import base64
import html
import json
from datetime import timedelta

import pytest
import time_machine
from django.contrib.admin.models import LogEntry
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from integrations.models import ApiKey
from pgap.models import CardSetup
from pgap.services.card_render import card_template
from tests.integrations.factories import AccountFactory
from tests.ivr.factories import IvrMappingFactory, SurveyTriggerFactory

pytestmark = pytest.mark.django_db

PERMS = ["view_cardsetup", "change_cardsetup", "add_cardsetup", "add_apikey"]


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()


@pytest.fixture
def mine(db):
    return CardSetup.objects.create(
        account=AccountFactory(name="Mine", npstoday_api_key="nps-test-key")
    )


@pytest.fixture
def theirs(db):
    return CardSetup.objects.create(account=AccountFactory(name="Theirs"))


@pytest.fixture
def staff(client, staff_user_factory, mine):
    client.force_login(staff_user_factory("ann", mine.account, perms=PERMS))
    return client


def url(name: str, setup: CardSetup) -> str:
    return reverse(f"admin:pgap_cardsetup_{name}", args=[setup.pk])


def test_the_setup_page_shows_every_field_of_dixas_form(staff, mine):
    # when
    page = staff.get(url("change", mine))
    # then every field of Dixa's custom-card form is there, each with a copy button
    assert page.status_code == 200
    text = page.content.decode()
    for field in ("title", "method", "hook-url", "auth-method", "auth-header", "username"):
        assert f'id="card-field-{field}"' in text
        assert f'data-copy="card-field-{field}"' in text
    for field in ("template-relay", "template-npstoday", "body-personal", "body-no-personal"):
        assert f'data-copy="card-field-{field}"' in text
    assert ">http://testserver/api/dixa/card</pre>" in text
    assert html.escape(card_template("npstoday")) in text
    assert "&quot;employeeEmail&quot;: &quot;{{agent_email}}&quot;" in text
    assert "no card key issued yet" in text


@pytest.mark.parametrize(
    "public_url, hook_url",
    [
        ("", "http://testserver/api/dixa/card"),  # the address the admin came to
        ("https://relay.example.com/", "https://relay.example.com/api/dixa/card"),
    ],
)
def test_the_hook_url_is_on_public_url_when_set(staff, mine, settings, public_url, hook_url):
    # given the PUBLIC_URL the Dixa connection registers its webhook on, or none
    settings.PUBLIC_URL = public_url
    # when
    page = staff.get(url("change", mine))
    # then the card's Hook URL is on it too
    hook = next(f for f in page.context["dixa_form"] if f["id"] == "hook-url")
    assert hook["value"] == hook_url
    assert f'<pre id="card-field-hook-url">{hook_url}</pre>' in page.content.decode()


def test_a_card_key_is_issued_from_the_page_shown_once_and_works(staff, mine, client):
    # when the admin issues the card's key
    page = staff.post(url("issue_key", mine), follow=True)
    # then it is shown once, after a redirect, ready to copy as Basic's password
    assert page.redirect_chain == [(url("issue_key", mine), 302)]
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]  # admin_view's
    key = page.context["plaintext"]
    assert f'<pre id="card-key" class="card-key">{key}</pre>' in page.content.decode()
    mine.refresh_from_db()
    assert mine.api_key.account == mine.account and mine.api_key.name == "dixa-card"
    assert ApiKey.objects.get(pk=mine.api_key.pk).key_hash != key  # stored hashed
    # and the setup page names it by its prefix only
    assert key not in staff.get(url("change", mine)).content.decode()
    # and coming back to the key's address leads to the setup page, saying why
    back = staff.get(url("issue_key", mine), follow=True)
    assert back.redirect_chain == [(url("change", mine), 302)]
    assert "A card key is shown once" in back.content.decode()
    assert key not in back.content.decode()
    # and the issue is in the admin's history
    entry = LogEntry.objects.get(object_id=str(mine.pk))
    assert "Issued the card key" in entry.get_change_message()
    # and the key opens the card's endpoint
    auth = "Basic " + base64.b64encode(f"ApiKey:{key}".encode()).decode()
    answer = client.post(
        "/api/dixa/card", data={}, content_type="application/json", HTTP_AUTHORIZATION=auth
    )
    assert answer.status_code == 200


def test_reloading_the_key_page_issues_no_second_key(staff, mine):
    # given a key issued, and shown on the page the POST redirected to
    issued = staff.post(url("issue_key", mine))
    assert issued.status_code == 302 and issued["Location"] == url("issue_key", mine)
    shown = staff.get(issued["Location"])
    key = shown.context["plaintext"]
    # when that page is reloaded
    reloaded = staff.get(issued["Location"], follow=True)
    # then no key is issued or shown: the setup page says why
    assert reloaded.redirect_chain == [(url("change", mine), 302)]
    assert "A card key is shown once" in reloaded.content.decode()
    assert key not in reloaded.content.decode()
    assert ApiKey.objects.count() == 1
    mine.refresh_from_db()
    assert mine.api_key == ApiKey.objects.get()
    # and the plaintext is no longer kept in the session
    assert key not in str(dict(staff.session))


def test_the_issued_key_waits_for_its_page_encrypted_and_briefly(staff, mine):
    # given a key issued, its page not yet asked for
    staff.post(url("issue_key", mine))
    [api_key] = ApiKey.objects.all()
    # then the session holds no plaintext (only the key's encryption)
    held = str(dict(staff.session))
    assert api_key.prefix not in held
    # and three minutes later its page no longer shows it
    with time_machine.travel(timezone.now() + timedelta(minutes=3)):
        late = staff.get(url("issue_key", mine), follow=True)
    assert late.redirect_chain == [(url("change", mine), 302)]
    assert "A card key is shown once" in late.content.decode()


def test_issuing_a_key_needs_a_post_and_the_right_to_add_api_keys(client, staff_user_factory, mine):
    client.force_login(staff_user_factory("bo", mine.account, perms=["change_cardsetup"]))
    assert client.get(url("issue_key", mine)).status_code == 302  # to the setup page
    assert client.post(url("issue_key", mine)).status_code == 403
    assert 'id="card-issue-key"' not in client.get(url("change", mine)).content.decode()
    assert not ApiKey.objects.exists()


def test_another_accounts_card_is_not_found(staff, theirs):
    assert staff.get(url("change", theirs)).status_code == 302  # the admin's "does not exist"
    assert staff.post(url("issue_key", theirs)).status_code == 404
    assert staff.get(url("test", theirs)).status_code == 404
    assert staff.post(url("test", theirs), {"customer_email": "a@b.example"}).status_code == 404
    assert not ApiKey.objects.exists()


def test_the_test_shows_our_json_and_the_card_rendered_in_a_sandbox(staff, mine, fake_npstoday):
    # given a survey of the customer
    SurveyTriggerFactory(mapping=IvrMappingFactory(account=mine.account, campaign_name="CSAT"))
    # when the admin tests with the customer's email, like Dixa's Test
    page = staff.post(
        url("test", mine),
        {"customer_email": "jane@example.com", "employeeEmail": "", "template": "relay"},
    )
    # then our JSON, with nps.today's token, and the card rendered from it in a sandbox
    assert page.status_code == 200
    answer = json.loads(page.context["answer_json"])
    assert answer["token"] and answer["echo"]["customer_email"] == "jane@example.com"
    assert answer["surveys"][0]["campaign"] == "CSAT"
    text = page.content.decode()
    assert 'sandbox="allow-scripts" srcdoc="' in text
    assert html.escape(page.context["rendered"]) in text
    assert "CSAT" in page.context["rendered"]


def test_the_test_refuses_a_malformed_email_with_the_reason(staff, mine, fake_npstoday):
    page = staff.post(url("test", mine), {"customer_email": "nope", "template": "relay"})
    assert page.status_code == 200
    assert "customer_email is not a valid email address" in page.content.decode()
    assert fake_npstoday.recorded("/employees/token") == []


def test_the_test_needs_an_email_or_a_phone(staff, mine):
    page = staff.post(url("test", mine), {"template": "npstoday"})
    assert "Type a customer email or phone number" in page.content.decode()


def test_the_list_shows_only_my_accounts_cards(staff, mine, theirs):
    page = staff.get(reverse("admin:pgap_cardsetup_changelist"))
    assert "Mine" in page.content.decode() and "Theirs" not in page.content.decode()


def test_a_staff_member_adds_the_card_of_their_account_only(client, staff_user_factory, db):
    # given a staff member of one account, and another account
    account = AccountFactory(name="Mine")
    other = AccountFactory(name="Theirs")
    client.force_login(staff_user_factory("ann", account, perms=PERMS))
    add = reverse("admin:pgap_cardsetup_add")
    # then the form offers only their account
    page = client.get(add)
    assert "Mine" in page.content.decode() and "Theirs" not in page.content.decode()
    # and a post naming the other account is refused, theirs is saved
    form = {"title": "Feedback", "personal_page": "", "history_size": 5}
    refused = client.post(add, {**form, "account": other.pk})
    assert refused.status_code == 200 and not CardSetup.objects.filter(account=other).exists()
    assert client.post(add, {**form, "account": account.pk}).status_code == 302
    setup = CardSetup.objects.get(account=account)
    assert (setup.title, setup.personal_page, setup.history_size) == ("Feedback", False, 5)


def test_the_key_and_test_pages_lead_back_through_every_level(staff, mine):
    # the breadcrumbs name the app, the list of setups and the setup itself
    changelist = reverse("admin:pgap_cardsetup_changelist")
    key_page = staff.post(url("issue_key", mine), follow=True)
    for page in (key_page, staff.get(url("test", mine))):
        crumbs = page.content.decode().split('class="breadcrumbs"', 1)[1].split("</div>", 1)[0]
        assert f'href="{reverse("admin:app_list", args=["pgap"])}"' in crumbs
        assert f'href="{changelist}"' in crumbs
        assert f'href="{url("change", mine)}"' in crumbs

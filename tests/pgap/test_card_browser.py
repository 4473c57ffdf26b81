"""The card in real Chromium (the system's, driven by Playwright): nps.today's template and
ours, rendered with python-liquid from our endpoint's answer and shown in a sandboxed frame
as Dixa shows a card; the fake Feedback App posts FEEDBACK_WIDGET_READY and must receive
SET_PARAMETERS with the token, email and phone. Then the setup page and its Test.
CARD_SCREENSHOTS=<dir> saves the screenshots docs/card.md shows."""

import base64
import html
import os
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.cache import cache

from integrations.services.api_keys import api_key_create
from ivr.models import SurveyTrigger
from pgap.models import CardSetup
from pgap.services.card_render import card_render, card_template
from tests.integrations.factories import AccountFactory
from tests.ivr.factories import IvrMappingFactory, SurveyTriggerFactory
from tests.pgap.factories import PgapPairFactory, PgapSetupFactory, SurveyResponseFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.chromium]

PASSWORD = "pw-for-the-browser"  # noqa: S105
WIDTH = 1280
BODY = {
    "employeeEmail": "karla@corp.example",
    "customer_email": "jane@example.com",
    "customer_phone_number": "+4520304050",
}


@pytest.fixture(autouse=True)
def _feedback_app(settings, fake_npstoday):
    cache.clear()
    settings.NPSTODAY_FEEDBACK_APP_URL = f"{fake_npstoday.url}/feedback-app"
    yield
    cache.clear()


def screenshot(page, name: str, **options) -> None:
    folder = os.environ.get("CARD_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"card-{name}.png"), **options)


@contextmanager
def chromium_page(*allowed: str, height: int = 900):
    """A fresh page in headless Chromium; requests to anywhere but `allowed` are refused
    and collected in `page.foreign`."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=settings.CHROMIUM_PATH)
        try:
            page = browser.new_context(viewport={"width": WIDTH, "height": height}).new_page()
            page.foreign, page.errors = [], []
            page.on("pageerror", lambda exc: page.errors.append(str(exc)))
            page.on(  # anything the Content-Security-Policy refused counts as an error
                "console",
                lambda message: (
                    page.errors.append(message.text)
                    if "Content Security Policy" in message.text
                    else None
                ),
            )

            def only_ours(route):
                url = route.request.url
                if url.startswith(allowed) or url.startswith(("about:", "data:")):
                    return route.continue_()
                page.foreign.append(url)
                return route.abort()

            page.route("**/*", only_ours)
            yield page
        finally:
            browser.close()


def feedback_app_frame(page, fake_url: str):
    """The fake Feedback App's frame, once it has loaded inside the card."""
    for _ in range(200):
        for frame in page.frames:
            if frame.url.startswith(f"{fake_url}/feedback-app"):
                return frame
        page.wait_for_timeout(50)
    raise AssertionError(f"no Feedback App frame among {[f.url for f in page.frames]}")


def show_card(page, rendered: str) -> None:
    """The card as Dixa shows it: its HTML in a sandboxed iframe (scripts, no same origin)."""
    host = (
        '<!DOCTYPE html><html><body style="margin:0;background:#f6f8fa">'
        '<iframe id="dixa-card" sandbox="allow-scripts" style="width:400px;height:880px;'
        f'border:0;background:#fff" srcdoc="{html.escape(rendered)}"></iframe></body></html>'
    )
    page.set_content(host)


def card_answer(live_server, key: str) -> dict:
    auth = "Basic " + base64.b64encode(f"ApiKey:{key}".encode()).decode()
    response = httpx.post(
        f"{live_server.url}/api/dixa/card", json=BODY, headers={"Authorization": auth}
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def surveyed_account(db):
    """An account whose customer Jane has three surveys (one answered) and whose agent Karla
    has P-GAP pairs."""
    account = AccountFactory(name="Acme", npstoday_api_key="nps-test-key")
    mapping = IvrMappingFactory(account=account, campaign_name="Support CSAT")
    answered = SurveyTriggerFactory(mapping=mapping, status=SurveyTrigger.Status.DELIVERED)
    SurveyResponseFactory(account=account, trigger=answered, rating=9, comment="Quick and kind")
    SurveyTriggerFactory(
        mapping=mapping,
        status=SurveyTrigger.Status.FAILED,
        reason="nps.today answered 400: respondent needs an emailAddress",
    )
    SurveyTriggerFactory(mapping=mapping)
    PgapSetupFactory(account=account)
    for agent, customer in ((7, 9), (8, 8), (9, 6)):
        PgapPairFactory(
            prediction__mapping=mapping,
            prediction__agent_email="karla@corp.example",
            prediction__score=agent,
            response__rating=customer,
        )
    return account


@pytest.mark.parametrize("template", ["npstoday", "relay"])
def test_the_card_hands_the_feedback_app_its_parameters(
    live_server, fake_npstoday, surveyed_account, template
):
    # given our endpoint's answer to the card's call
    key = api_key_create(account=surveyed_account, name="dixa-card").plaintext
    answer = card_answer(live_server, key)
    # when the card's template is rendered with it and shown in Chromium as Dixa shows it
    rendered = card_render(template=card_template(template), answer=answer)
    with chromium_page(live_server.url, fake_npstoday.url) as page:
        show_card(page, rendered)
        app = feedback_app_frame(page, fake_npstoday.url)
        # then the Feedback App, once it said FEEDBACK_WIDGET_READY, got SET_PARAMETERS
        app.wait_for_function("window.received && window.received.length > 0")
        received = app.evaluate("window.received")
        assert received == [
            {
                "token": answer["token"],
                "respondentEmail": "jane@example.com",
                "respondentPhone": "+4520304050",
            }
        ]
        card = page.frame_locator("#dixa-card")
        if template == "relay":
            # and ours shows the history and the P-GAP above the Feedback App
            surveys = card.locator("#relay-surveys li")
            assert surveys.count() == 3
            assert "Quick and kind" in card.locator("#relay-surveys").inner_text()
            assert "respondent needs an emailAddress" in surveys.nth(1).inner_text()
            assert "3 pairs" in card.locator("#relay-pgap").inner_text()
            screenshot(page, "ours", clip={"x": 0, "y": 0, "width": 400, "height": 880})
        else:
            screenshot(page, "npstoday", clip={"x": 0, "y": 0, "width": 400, "height": 400})
        assert page.foreign == [] and page.errors == []


def test_our_card_says_feedback_unavailable_when_npstoday_is_down(
    live_server, fake_npstoday, surveyed_account
):
    # given nps.today down
    fake_npstoday.push({"status": 503})
    key = api_key_create(account=surveyed_account, name="dixa-card").plaintext
    answer = card_answer(live_server, key)
    # when our card is rendered with the answer
    rendered = card_render(template=card_template("relay"), answer=answer)
    with chromium_page(live_server.url, fake_npstoday.url) as page:
        show_card(page, rendered)
        card = page.frame_locator("#dixa-card")
        # then the history is there, and in place of the Feedback App a plain notice
        notice = card.locator("#relay-feedback-unavailable")
        assert notice.inner_text() == "Feedback unavailable: nps.today answered 503"
        assert card.locator("#relay-surveys li").count() == 3
        assert card.locator("iframe").count() == 0
        screenshot(page, "unavailable", clip={"x": 0, "y": 0, "width": 400, "height": 560})
        assert page.errors == []


def admin_user(django_user_model, account):
    user = django_user_model.objects.create_user("ann", password=PASSWORD, is_staff=True)
    codenames = ["view_cardsetup", "change_cardsetup", "add_apikey"]
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    account.members.add(user)
    return user


def log_in(page, live_server) -> None:
    page.goto(f"{live_server.url}/{settings.ADMIN_URL}login/")
    page.fill("#id_username", "ann")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


def test_the_setup_page_copies_issues_a_key_and_tests_the_card(
    live_server, fake_npstoday, surveyed_account, django_user_model
):
    # given the account's card setup and a staff member of the account
    setup = CardSetup.objects.create(account=surveyed_account)
    admin_user(django_user_model, surveyed_account)
    change = f"{live_server.url}/{settings.ADMIN_URL}pgap/cardsetup/{setup.pk}/change/"
    with chromium_page(live_server.url, fake_npstoday.url, height=1000) as page:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        log_in(page, live_server)
        page.goto(change)
        # then Dixa's form is there, and a copy button puts a field on the clipboard
        assert page.locator("#card-field-hook-url").inner_text() == (
            f"{live_server.url}/api/dixa/card"
        )
        page.click("[data-copy=card-field-hook-url]")
        page.wait_for_selector("[data-copy=card-field-hook-url]:text('Copied')")
        assert page.evaluate("navigator.clipboard.readText()") == f"{live_server.url}/api/dixa/card"
        page.click("[data-copy=card-field-body-no-personal]")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert '"customer_email": "{{customer_email}}"' in copied and "employee" not in copied
        # and it reads well at 1280 px: nothing wider than the window
        assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
        page.locator("#card-dixa-form").scroll_into_view_if_needed()
        screenshot(page, "setup", full_page=True)
        # when the admin issues the card key
        page.click("#card-issue-key")
        key = page.locator("#card-key").inner_text()
        assert key.startswith("dsr_")
        screenshot(page, "key")
        # then it opens the card's endpoint
        auth = "Basic " + base64.b64encode(f"ApiKey:{key}".encode()).decode()
        assert (
            httpx.post(
                f"{live_server.url}/api/dixa/card", json=BODY, headers={"Authorization": auth}
            ).status_code
            == 200
        )
        # when the admin tests the card like in Dixa
        page.goto(change)
        page.click("#card-test-link")
        page.fill("#id_customer_email", "jane@example.com")
        page.fill("#id_employeeEmail", "karla@corp.example")
        page.click("#card-test-run")
        # then our JSON, and the card rendered in a sandboxed frame with the Feedback App in it
        assert (
            '"customer_email": "jane@example.com"' in page.locator("#card-test-json").inner_text()
        )
        frame = page.locator("#card-test-frame")
        assert frame.get_attribute("sandbox") == "allow-scripts"
        card = page.frame_locator("#card-test-frame")
        assert card.locator("#relay-surveys li").count() == 3
        app = feedback_app_frame(page, fake_npstoday.url)
        app.wait_for_function("window.received && window.received.length > 0")
        assert app.evaluate("window.received[0].respondentEmail") == "jane@example.com"
        assert app.evaluate("window.received[0].token").count(".") == 2
        assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
        screenshot(page, "test", full_page=True)
        assert page.foreign == [] and page.errors == []

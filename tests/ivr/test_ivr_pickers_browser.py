"""An account and a mapping made in real Chromium (the system's, driven by Playwright) against
Django's live server and the fake Dixa and nps.today servers: the account's "Test connection",
the pickers filled through our server, a failed save that keeps what was typed, the mapping
list with the names. ADMIN_SCREENSHOTS=<folder> saves the screens docs/admin.md shows."""

import os

import pytest
from django.conf import settings

from integrations.models import Account
from ivr.models import IvrMapping
from tests.fakes.dixa import FakeDixa
from tests.fakes.npstoday import FakeNpsToday
from tests.ivr.factories import QUEUE_ID
from tests.pgap.test_browser import PASSWORD, chromium_page, log_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.chromium]


def screenshot(page, name: str) -> None:
    folder = os.environ.get("ADMIN_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, name), full_page=True)


@pytest.fixture
def fakes(settings):
    npstoday = FakeNpsToday(api_keys=["nps-test-key"]).start()
    dixa = FakeDixa(tokens=["dixa-test-token"]).start()
    settings.NPSTODAY_API_URL, settings.DIXA_API_URL = npstoday.url, dixa.url
    yield npstoday, dixa
    npstoday.stop()
    dixa.stop()


def admin(live_server, path: str) -> str:
    return f"{live_server.url}/{settings.ADMIN_URL}{path}"


def test_an_account_and_a_mapping_made_with_the_pickers(live_server, django_user_model, fakes):
    django_user_model.objects.create_superuser("root", password=PASSWORD)
    with chromium_page(live_server) as page:
        log_in(page, live_server, "root")
        # an account with its nps.today key, checked with "Test connection"
        page.goto(admin(live_server, "integrations/account/add/"))
        page.fill("#id_name", "Acme")
        page.fill("#id_npstoday_api_key", "nps-test-key")
        page.click("input[name=_continue]")
        page.click("#test-connection")
        assert "Acme: nps.today accepted the key" in page.text_content("ul.messagelist")
        account_pk = page.url.rstrip("/").split("/")[-2]  # …/account/<pk>/change/

        # a mapping: type the token, load and choose a queue and a campaign
        page.goto(admin(live_server, "ivr/ivrmapping/add/"))
        page.select_option("#id_account", account_pk)
        page.fill("#id_name", "Support DK")
        page.fill("#id_dixa_api_token", "dixa-test-token")
        page.click(".relay-picker[data-kind=queues] .relay-picker-load")
        queues = page.locator(".relay-picker[data-kind=queues] .relay-picker-choices")
        queues.wait_for(state="visible")
        queues.select_option(QUEUE_ID)
        assert page.input_value("#id_queue_id") == QUEUE_ID
        page.click(".relay-picker[data-kind=campaigns] .relay-picker-load")
        campaigns = page.locator(".relay-picker[data-kind=campaigns] .relay-picker-choices")
        campaigns.wait_for(state="visible")
        campaigns.select_option("7232")
        screenshot(page, "admin-mapping-pickers.png")
        page.click("input[name=_save]")
        page.wait_for_selector("#result_list")
        screenshot(page, "admin-mapping-list.png")
        row = page.inner_text("#result_list tbody tr")
        assert "Mail - General" in row and "Relationsmåling Q1" in row
        assert not page.foreign and not page.errors

    mapping = IvrMapping.objects.get()
    assert mapping.account == Account.objects.get(name="Acme")
    assert (mapping.queue_id, mapping.campaign_id) == (QUEUE_ID, 7232)
    assert mapping.dixa_api_token == "dixa-test-token"


def test_a_refused_token_and_an_unknown_queue_keep_what_was_typed(
    live_server, django_user_model, fakes
):
    django_user_model.objects.create_superuser("root", password=PASSWORD)
    account = Account.objects.create(name="Acme", slug="acme", npstoday_api_key="nps-test-key")
    with chromium_page(live_server) as page:
        log_in(page, live_server, "root")
        page.goto(admin(live_server, "ivr/ivrmapping/add/"))
        page.select_option("#id_account", str(account.pk))
        page.fill("#id_name", "Support DK")
        # "Load queues" with a token Dixa refuses says so in a sentence
        page.fill("#id_dixa_api_token", "not-the-token")
        page.click(".relay-picker[data-kind=queues] .relay-picker-load")
        status = page.locator(".relay-picker[data-kind=queues] .relay-picker-status")
        status.filter(has_text="Dixa refused the token (401).").wait_for()
        # a save with the right token but a queue Dixa does not know is refused
        page.fill("#id_dixa_api_token", "dixa-test-token")
        page.fill("#id_queue_id", "tbd")
        page.fill("#id_campaign_id", "7232")
        page.click("input[name=_save]")
        page.wait_for_selector(".errornote")
        assert "Dixa has no queue 'tbd'" in page.inner_text(".field-queue_id")
        screenshot(page, "admin-mapping-refused.png")
        # and everything typed is still there, the token included
        assert page.input_value("#id_dixa_api_token") == "dixa-test-token"
        assert page.input_value("#id_queue_id") == "tbd"
        assert page.input_value("#id_name") == "Support DK"
    assert not IvrMapping.objects.exists()


def test_with_dixa_down_the_queue_id_is_typed_by_hand(
    live_server, django_user_model, fakes, settings
):
    django_user_model.objects.create_superuser("root", password=PASSWORD)
    account = Account.objects.create(name="Acme", slug="acme", npstoday_api_key="nps-test-key")
    settings.DIXA_API_URL = "http://127.0.0.1:1"  # Dixa does not answer
    with chromium_page(live_server) as page:
        log_in(page, live_server, "root")
        page.goto(admin(live_server, "ivr/ivrmapping/add/"))
        # the only account is chosen already
        assert page.input_value("#id_account") == str(account.pk)
        page.fill("#id_name", "Support DK")
        page.fill("#id_dixa_api_token", "dixa-test-token")
        # "Load queues" says Dixa did not answer, and that the id may be typed
        page.click(".relay-picker[data-kind=queues] .relay-picker-load")
        status = page.locator(".relay-picker[data-kind=queues] .relay-picker-status")
        status.filter(has_text="Type the queue id yourself, or try again.").wait_for()
        assert status.inner_text().startswith("Dixa (http://127.0.0.1:1) did not answer: ")
        screenshot(page, "admin-mapping-dixa-down.png")
        # typed by hand, saved with "Save anyway"
        page.fill("#id_queue_id", QUEUE_ID)
        page.fill("#id_campaign_id", "7232")
        page.click("input[name=_save]")
        page.check("#id_save_anyway")
        page.click("input[name=_save]")
        page.wait_for_selector("#result_list")
        assert not page.foreign and not page.errors
    assert IvrMapping.objects.get().queue_id == QUEUE_ID

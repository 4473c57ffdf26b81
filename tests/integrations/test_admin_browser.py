"""The operations console in real Chromium (the system's, driven by Playwright) at 1280 px:
the dashboard with its chart and banners, a survey's read-only page with its audit trail, the
audit list, and a staff user of one account. Nothing is fetched from any other host.
ADMIN_SCREENSHOTS=<dir> saves each screen as docs/admin.md shows it."""

import os
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.utils import timezone

from integrations.alerts.models import AlertIncident
from integrations.audit.services import audit_record
from integrations.services.api_keys import api_key_create
from integrations.services.roles import ACCOUNT_ADMIN, OPERATOR, roles_sync
from ivr.models import SurveyTrigger
from ivr.services.daily_counts import daily_counts_refresh
from pgap.models import PgapSetup
from tests.integrations.factories import AccountFactory, SigningSecretFactory
from tests.ivr.factories import DeliveryAttemptFactory, IvrMappingFactory
from tests.ivr.test_dashboard import close, survey
from tests.pgap.test_browser import PASSWORD, WIDTH, chromium_page, log_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.chromium]
Status = SurveyTrigger.Status
SKIPS = (
    "quarantine: jane@example.com was surveyed within 30 days",
    "no assigned agent: nps.today requires one to send a survey",
    "channel SMS is not surveyed by this mapping",
)


def screenshot(page, name: str, *, full_page: bool = True) -> None:
    folder = os.environ.get("ADMIN_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, f"admin-{name}.png"), full_page=full_page)


def assert_fits(page) -> None:
    """Readable at 1280 px: nothing wider than the window, no error, nothing foreign."""
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    assert page.foreign == [] and page.errors == []


@pytest.fixture
def month_of_traffic():
    """Two accounts' last 30 days: closes, skips and surveys on most days. Both are set up
    (nps.today key, relay key, mappings): the dashboard has no Getting started."""
    acme = AccountFactory(name="Acme Support", npstoday_api_key="nps-test-key")
    api_key_create(account=acme, name="dixa")
    SigningSecretFactory(account=acme)
    support = IvrMappingFactory(account=acme, name="Support DK", queue_id="q-dk")
    returns = IvrMappingFactory(account=acme, name="Returns", queue_id="q-ret", campaign_id=7300)
    globex = AccountFactory(name="Globex", npstoday_api_key="nps-globex-key")
    api_key_create(account=globex, name="dixa")
    other = IvrMappingFactory(account=globex, name="Globex care", queue_id="q-g")
    for day in range(30):
        for n in range(3 + day % 5):
            close(acme, "q-dk" if n % 3 else "q-ret", days_ago=day)
            survey(support if n % 3 else returns, Status.DELIVERED, days_ago=day)
        close(acme, "q-dk", skipped=SKIPS[day % 3], days_ago=day)
        if day % 4 == 0:
            survey(support, Status.FAILED, days_ago=day)
        close(globex, "q-g", days_ago=day)
    survey(support, Status.HELD)
    survey(other, Status.FAILED)
    now = timezone.now()
    AlertIncident.objects.create(
        account=acme,
        condition="dead_letters",
        detail="12 dead letters in the last hour (alert at 10)",
        opened_at=now - timedelta(minutes=20),
        last_seen_at=now,
    )
    daily_counts_refresh(days=30)
    return {"acme": acme, "support": support, "globex": globex}


def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", PASSWORD)


def test_the_dashboard_draws_its_chart_and_banners(
    live_server, django_user_model, month_of_traffic
):
    superuser(django_user_model)
    with chromium_page(live_server) as page:
        log_in(page, live_server, "root")
        page.goto(f"{live_server.url}/{settings.ADMIN_URL}")
        # the four series of the chart are drawn, 30 points each
        for series in ("closes", "delivered", "skipped", "dead"):
            line = page.locator(f"svg polyline.line.{series}")
            assert len(line.get_attribute("points").split()) == 30
            assert page.locator(f"svg circle.dot.{series}").count() == 30
            assert page.locator(f"svg circle.dot.{series}").last.is_visible()
        box = page.locator(".relay-chart svg").bounding_box()
        assert box["width"] > 800 and box["height"] > 150
        # the banners: an open incident, and Globex without a signing secret
        banners = page.locator(".relay-banner").all_inner_texts()
        assert any("Dead letters · Acme Support" in b for b in banners)
        assert any("No signing secret · Globex" in b for b in banners)
        # the stylesheet came from this server
        assert (
            page.locator(".relay-banner-error").first.evaluate(
                "e => getComputedStyle(e).borderLeftWidth"
            )
            == "4px"
        )
        assert page.locator("th[scope=row]", has_text="Support DK").is_visible()
        assert page.locator(".relay-start").count() == 0  # both accounts are set up
        assert_fits(page)
        screenshot(page, "dashboard")
        # the incident behind the banner, in the alerts' list
        page.goto(f"{live_server.url}/{settings.ADMIN_URL}integrations/alertincident/")
        row = page.locator("#result_list tbody tr").first.inner_text()
        assert "Dead letters" in row and "open" in row
        assert_fits(page)
        screenshot(page, "alerts", full_page=False)


def test_a_surveys_page_is_read_only_with_its_tries_and_audit_trail(
    live_server, django_user_model, month_of_traffic
):
    root = superuser(django_user_model)
    trigger = survey(month_of_traffic["support"], Status.FAILED)
    for number in (1, 2):
        DeliveryAttemptFactory(
            trigger=trigger,
            number=number,
            outcome="retry" if number == 1 else "failed",
            response_status_code=503 if number == 1 else 400,
            response_body='{"error": "campaign closed"}' if number == 2 else "",
        )
    audit_record(
        actor=root,
        action="survey cancel",
        objects=[trigger],
        summary="Cancel 1 selected survey(s)",
        result="0 cancelled (only pending and held surveys are cancelled)",
    )
    with chromium_page(live_server) as page:
        log_in(page, live_server, "root")
        page.goto(f"{live_server.url}/{settings.ADMIN_URL}ivr/surveytrigger/{trigger.pk}/change/")
        # nothing to type into, nothing to save or delete
        assert page.locator("textarea, input[type=text]").count() == 0
        assert page.locator("input[name=_save], a.deletelink").count() == 0
        member = page.locator("pre", has_text="respondent")
        assert member.is_visible()
        assert page.get_by_role("heading", name="Audit trail").is_visible()
        assert page.locator("table.relay-audit").inner_text().count("survey cancel") == 1
        assert_fits(page)
        screenshot(page, "survey")
        page.goto(f"{live_server.url}/{settings.ADMIN_URL}integrations/auditentry/")
        assert page.locator("#result_list tbody tr").count() == 1
        assert_fits(page)
        screenshot(page, "audit-trail", full_page=False)


def test_a_staff_user_of_one_account_sees_only_it(live_server, django_user_model, month_of_traffic):
    user = django_user_model.objects.create_user("olga", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=OPERATOR))
    month_of_traffic["acme"].members.add(user)
    with chromium_page(live_server) as page:
        log_in(page, live_server, "olga")
        page.goto(f"{live_server.url}/{settings.ADMIN_URL}")
        text = page.locator("#content").inner_text()
        assert "Support DK" in text and "Globex" not in text
        assert "You don’t have permission" not in text
        assert_fits(page)
        screenshot(page, "dashboard-operator")
        page.goto(f"{live_server.url}/{settings.ADMIN_URL}ivr/surveytrigger/")
        listing = page.locator("#changelist").inner_text()
        assert "Globex" not in listing
        filters = page.locator("#changelist-filter").inner_text()
        assert "Support DK" in filters and "Globex care" not in filters
        actions = page.locator("select[name=action] option").all_inner_texts()
        assert "Resend selected dead letters" in actions
        assert not [a for a in actions if a.startswith("Delete")]
        assert_fits(page)
        screenshot(page, "surveys-operator", full_page=False)


def test_a_fresh_install_opens_on_the_first_steps(live_server, django_user_model):
    # given a fresh install: a superuser, no account
    superuser(django_user_model)
    with chromium_page(live_server) as page:
        log_in(page, live_server, "root")
        page.goto(f"{live_server.url}/{settings.ADMIN_URL}")
        # then the dashboard opens on Getting started, its first step linked
        start = page.locator(".relay-start")
        assert start.is_visible()
        assert page.locator(".relay-steps li").count() == 4
        assert page.locator(".relay-steps li.done").count() == 0
        assert start.get_by_role("link", name="Accounts → Add").is_visible()
        assert page.locator(".relay-banner-ok").count() == 0
        assert_fits(page)
        screenshot(page, "getting-started-fresh", full_page=False)
        # following it leads to the account's add form
        start.get_by_role("link", name="Accounts → Add").click()
        page.wait_for_selector("#id_name")


def test_an_account_admin_sees_their_accounts_steps_ticked(live_server, django_user_model):
    # given an account admin of Acme, which has its nps.today key and a P-GAP setup, and
    # Globex, another tenant's account that is not set up
    acme = AccountFactory(name="Acme Support", npstoday_api_key="nps-test-key")
    PgapSetup.objects.create(account=acme)
    AccountFactory(name="Globex", npstoday_api_key="")
    user = django_user_model.objects.create_user("ada", password=PASSWORD, is_staff=True)
    roles_sync()
    user.groups.add(Group.objects.get(name=ACCOUNT_ADMIN))
    acme.members.add(user)
    with chromium_page(live_server) as page:
        log_in(page, live_server, "ada")
        page.goto(f"{live_server.url}/{settings.ADMIN_URL}")
        # then Acme's checklist only: the key ticked, Dixa and the mapping to do
        start = page.locator(".relay-start")
        assert start.locator("h3").all_inner_texts() == ["Acme Support"]
        assert "Globex" not in start.inner_text()
        states = page.locator(".relay-steps li").evaluate_all(
            "items => items.map(i => i.className)"
        )
        assert states == ["done", "todo", "todo", "todo optional"]
        assert_fits(page)
        screenshot(page, "getting-started", full_page=False)
        # the mapping's link opens the add form with Acme chosen
        start.get_by_role("link", name="add an IVR mapping").click()
        page.wait_for_selector("#id_account")
        assert page.input_value("#id_account") == str(acme.pk)


def test_accounts_not_set_up_have_their_checklists_side_by_side(live_server, django_user_model):
    superuser(django_user_model)
    for name, key in (("Acme Support", "nps-key"), ("Globex", ""), ("Initech", "")):
        AccountFactory(name=name, npstoday_api_key=key)
    with chromium_page(live_server) as page:
        log_in(page, live_server, "root")
        page.goto(f"{live_server.url}/{settings.ADMIN_URL}")
        start = page.locator(".relay-start")
        assert start.locator("h3").all_inner_texts() == ["Acme Support", "Globex", "Initech"]
        tops = start.locator("h3").evaluate_all(
            "items => items.map(i => i.getBoundingClientRect().top)"
        )
        assert len(set(tops)) == 1
        assert_fits(page)
        screenshot(page, "getting-started-accounts", full_page=False)

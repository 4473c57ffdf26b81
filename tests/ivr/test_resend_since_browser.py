""" "Resend dead letters since…" in real Chromium at 1280 px: the admin's calendar and clock
load without a script error, the first submit shows what would be resent and since when, and
only the confirmation resends."""

import pytest
from django.utils import timezone

from ivr.models import SurveyTrigger
from tests.ivr.factories import SurveyTriggerFactory
from tests.ivr.test_ivr_pickers_browser import admin, screenshot
from tests.pgap.test_browser import PASSWORD, chromium_page, log_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.chromium]


def test_resend_since_picks_a_moment_previews_and_resends(
    live_server, django_user_model, monkeypatch
):
    # Playwright's sync API runs an event loop; the checks of the row below are plain reads.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # given a dead letter of today, and a superuser
    dead = SurveyTriggerFactory(status=SurveyTrigger.Status.FAILED, finished_at=timezone.now())
    django_user_model.objects.create_superuser("root", password=PASSWORD)
    with chromium_page(live_server) as page:
        log_in(page, live_server, "root")
        # when the page opens from the surveys list
        page.goto(admin(live_server, "ivr/surveytrigger/"))
        page.click("text=Resend dead letters since…")
        page.wait_for_load_state("load")
        # then the calendar and clock are there, with no script error
        page.wait_for_selector(".datetimeshortcuts")
        assert "YYYY-MM-DD" in page.inner_text("#content")
        # when today is picked from the calendar and midnight from the clock
        page.click("#calendarlink0")
        page.click("#calendarbox0 .calendar-shortcuts a:has-text('Today')")
        page.click("#clocklink0")
        page.click("#clockbox0 a:has-text('Midnight')")
        today = timezone.now().strftime("%Y-%m-%d")
        assert page.input_value("#id_since_0") == today
        assert page.input_value("#id_since_1") == "00:00:00"
        screenshot(page, "admin-resend-since.png")
        page.click("input[value='Show the dead letters to resend']")
        # then the next page says how many, since when, and nothing is resent yet
        preview = page.inner_text("#resend-preview")
        assert "1 dead letter" in preview and f"since {today} 00:00 UTC" in preview
        dead.refresh_from_db()
        assert dead.status == SurveyTrigger.Status.FAILED
        screenshot(page, "admin-resend-since-preview.png")
        # when it is confirmed
        page.click("input[value='Resend 1 dead letter']")
        # then it is resent, and the message names the moment
        message = page.inner_text(".messagelist")
        assert f"1 dead letter resent (failed since {today} 00:00 UTC)." in message
        dead.refresh_from_db()
        assert dead.status == SurveyTrigger.Status.PENDING
        assert not page.foreign and not page.errors, page.errors

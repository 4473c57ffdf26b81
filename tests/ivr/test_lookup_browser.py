"""The customer lookup and the big lists in real Chromium at 1280 px: a staff user looks a
customer up and follows the chain; the lists show every column without clipping.
ADMIN_SCREENSHOTS=<folder> saves the screens docs/admin.md shows."""

from unittest import mock

import pytest
from django.contrib.auth.models import Permission

from integrations.services.processing import inbound_event_process
from ivr.models import DeliveryAttempt, SurveyTrigger
from tests.ivr.factories import IvrMappingFactory
from tests.ivr.helpers import stored_event
from tests.ivr.test_ivr_pickers_browser import admin, screenshot
from tests.pgap.test_browser import PASSWORD, chromium_page, log_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.chromium]
VIEW = ["view_inboundevent", "view_surveytrigger", "view_deliveryattempt", "view_ivrmapping"]


def jane_history(mapping) -> None:
    """Three closes of Jane's: delivered after a retry, skipped (unmapped queue), an error."""
    with mock.patch("ivr.tasks.deliver_surveys.apply_async"):
        for csid, queue in ((294566, None), (294570, {"id": "sales", "name": "Sales"})):
            extra = {"queue": queue} if queue else {}
            event = stored_event(mapping.account, csid=csid, **extra)
            inbound_event_process(event_pk=event.pk)
    survey = SurveyTrigger.objects.get()
    for number, code, outcome in ((1, 503, "retry"), (2, 201, "success")):
        DeliveryAttempt.objects.create(
            trigger=survey,
            number=number,
            request_url="https://nps.today/x",
            request_body={},
            response_status_code=code,
            outcome=outcome,
        )
    SurveyTrigger.objects.filter(pk=survey.pk).update(status="delivered", attempt_count=2)


def no_clipping(page, path: str) -> None:
    """The list's table is as wide as its box: nothing scrolls out of sight."""
    widths = page.eval_on_selector(
        "#changelist .results", "box => [box.scrollWidth, box.clientWidth]"
    )
    assert widths[0] <= widths[1], (path, widths)


def test_a_staff_user_looks_a_customer_up_and_follows_the_chain(live_server, django_user_model):
    # given Jane's closes in an account, and a staff user of that account
    mapping = IvrMappingFactory(name="Support DK")
    other = IvrMappingFactory(name="Someone else's")
    jane_history(mapping)
    stored_event(other.account, csid=1)  # another tenant's close of hers: never shown
    user = django_user_model.objects.create_user("ann", password=PASSWORD, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=VIEW))
    mapping.account.members.add(user)
    with chromium_page(live_server) as page:
        log_in(page, live_server, "ann")
        # when she opens the lookup from the surveys list and searches for Jane
        page.goto(admin(live_server, "ivr/surveytrigger/"))
        page.click("text=Customer lookup")
        page.fill("#lookup-q", "jane@example.com")
        page.click("input[value='Look up']")
        page.wait_for_selector("#chain")
        screenshot(page, "admin-customer-lookup.png")
        # then both of her closes in this account are laid out, newest first
        rows = page.locator("#chain tbody tr")
        assert rows.count() == 2
        skipped, delivered = rows.nth(0).inner_text(), rows.nth(1).inner_text()
        assert "no enabled IVR mapping for queue sales" in skipped and "no survey" in skipped
        assert "Support DK" in delivered and "delivered" in delivered
        assert "503" in delivered and "201" in delivered
        widths = page.eval_on_selector(
            "#chain", "t => [t.scrollWidth, t.parentElement.clientWidth]"
        )
        assert widths[0] <= widths[1], widths
        # and the survey's link opens the survey with its tries
        rows.nth(1).locator("a[href*='/ivr/surveytrigger/']").click()
        page.wait_for_selector(".inline-group")
        assert "503" in page.inner_text(".inline-group")
        assert not page.foreign and not page.errors


def test_the_big_lists_fit_1280_px(live_server, django_user_model):
    mapping = IvrMappingFactory()
    jane_history(mapping)
    django_user_model.objects.create_superuser("root", password=PASSWORD)
    with chromium_page(live_server) as page:
        log_in(page, live_server, "root")
        for path, shot in (
            ("integrations/inboundevent/", "admin-events.png"),
            ("ivr/surveytrigger/", "admin-surveys.png"),
            ("ivr/ivrmapping/", None),
        ):
            page.goto(admin(live_server, path))
            page.wait_for_selector("#changelist")
            no_clipping(page, path)
            if shot:
                screenshot(page, shot)
        # the reason, verification and account columns are on screen
        page.goto(admin(live_server, "integrations/inboundevent/"))
        for column in ("reason", "signature", "account"):
            header = page.locator(f"#result_list thead th:has-text('{column}')")
            box = header.bounding_box()
            assert box and box["x"] + box["width"] <= 1280, column

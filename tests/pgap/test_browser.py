"""The P-GAP page in real Chromium (the system's, driven by Playwright) against Django's live
server: charts and matrix drawn, scoping, the CSV download. Nothing is fetched from any
other host. PGAP_SCREENSHOT=<path> saves the page as docs/pgap.md shows it."""

import csv
import io
import os
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission

from pgap.services.seeding import pgap_pairs_seed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.chromium]

PASSWORD = "pw-for-the-browser"  # noqa: S105
WIDTH = 1280


@contextmanager
def chromium_page(live_server):
    """A fresh page in headless Chromium. Every request it makes must go to the live server;
    the others are collected in `page.foreign` (and refused). Script errors and anything the
    Content-Security-Policy refused are collected in `page.errors`."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=settings.CHROMIUM_PATH)
        try:
            context = browser.new_context(viewport={"width": WIDTH, "height": 900})
            page = context.new_page()
            page.foreign, page.errors = [], []
            page.on("pageerror", lambda exc: page.errors.append(str(exc)))
            page.on(
                "console",
                lambda message: (
                    page.errors.append(message.text)
                    if "Content Security Policy" in message.text
                    else None
                ),
            )

            def only_ours(route):
                if route.request.url.startswith(live_server.url):
                    return route.continue_()
                page.foreign.append(route.request.url)
                return route.abort()

            page.route("**/*", only_ours)
            yield page
        finally:
            browser.close()


def log_in(page, live_server, username: str) -> None:
    """Through the admin's own login form."""
    page.goto(f"{live_server.url}/{settings.ADMIN_URL}login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


def staff_user(django_user_model, username: str, *accounts):
    user = django_user_model.objects.create_user(username, password=PASSWORD, is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(codename__in=["view_pgappair", "view_coachingperiod"])
    )
    for account in accounts:
        account.members.add(user)
    return user


def open_pgap(page, live_server, query: str = "?period=90") -> None:
    page.goto(f"{live_server.url}/{settings.ADMIN_URL}pgap/pgappair/{query}")


def test_the_page_draws_its_charts_and_matrix(live_server, django_user_model):
    # given a quarter of pairs by eight agents, and a staff user of their account
    seeded = pgap_pairs_seed(pairs=4000, accounts=1, agents=8, days=84, mappings=3)
    staff_user(django_user_model, "ann", *seeded.accounts)
    # when the page is opened in Chromium
    with chromium_page(live_server) as page:
        log_in(page, live_server, "ann")
        open_pgap(page, live_server)
        # then both charts are drawn with a line and a point per week
        for chart in ("#pgap-gap-chart", "#pgap-nps-chart"):
            box = page.locator(chart).bounding_box()
            assert box and box["width"] > 300 and box["height"] > 100, chart
            assert page.locator(f"{chart} path").first.get_attribute("d").startswith("M")
            assert page.locator(f"{chart} circle").count() >= 12
        # and the matrix is 11 × 11, its cells linking to their conversations
        assert page.locator("#pgap-matrix tbody tr").count() == 11
        assert page.locator("#pgap-matrix tbody td").count() == 121
        assert page.locator("#pgap-summary .value").first.inner_text() == "4000"
        page.locator("#pgap-matrix td a").first.click()
        page.wait_for_selector("#pgap-conversations")
        assert page.locator("#pgap-conversations a[href*='/conversation/']").count() > 0
        if os.environ.get("PGAP_SCREENSHOT"):
            path = os.environ["PGAP_SCREENSHOT"].replace(".png", "-conversations.png")
            page.screenshot(path=path)
        # and nothing came from anywhere else, and no script failed
        assert page.foreign == [] and page.errors == []
        if os.environ.get("PGAP_SCREENSHOT"):
            open_pgap(page, live_server)
            page.screenshot(path=os.environ["PGAP_SCREENSHOT"], full_page=True)


def test_a_scoped_staff_user_sees_only_their_account(live_server, django_user_model):
    # given pairs in two accounts, and a staff user of the first
    seeded = pgap_pairs_seed(pairs=300, accounts=2, agents=3, days=30)
    mine, theirs = seeded.accounts
    staff_user(django_user_model, "ann", mine)
    # when
    with chromium_page(live_server) as page:
        log_in(page, live_server, "ann")
        open_pgap(page, live_server)
        # then only their account is offered and counted
        options = page.locator("#id_account option").all_inner_texts()
        assert options == ["All my accounts", mine.name]
        assert page.locator("#pgap-summary .value").first.inner_text() == "150"
        assert theirs.name not in page.content()
        # and asking for the other account by its id shows the form's error
        open_pgap(page, live_server, f"?account={theirs.pk}")
        assert page.locator(".errorlist").count() > 0
        assert page.locator("#pgap-summary").count() == 0


def test_the_csv_link_downloads_the_pairs_shown(live_server, django_user_model):
    seeded = pgap_pairs_seed(pairs=250, accounts=1, agents=4, days=30)
    staff_user(django_user_model, "ann", *seeded.accounts)
    with chromium_page(live_server) as page:
        log_in(page, live_server, "ann")
        open_pgap(page, live_server)
        with page.expect_download() as download_info:
            page.click("#pgap-export")
        download = download_info.value
        assert download.suggested_filename.startswith("pgap-")
        text = open(download.path(), encoding="utf-8").read()
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert header[0] == "answered_at" and header[-1] == "dixa_url"
    assert len(rows) == 250

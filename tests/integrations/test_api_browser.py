"""The management API's pages in real Chromium (the system's): Swagger UI and Redoc draw the
document with nothing fetched from another host, and the token list reads at 1280 px.
API_SCREENSHOTS=<folder> saves the pages as docs/api.md shows them."""

import os
from pathlib import Path

import pytest
from django.conf import settings

from integrations.services.management_tokens import management_token_create
from tests.integrations.api import make_staff
from tests.pgap.test_browser import PASSWORD, chromium_page, log_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.chromium]


def staff(django_user_model, account):
    user = make_staff(django_user_model, "ann", account)
    user.set_password(PASSWORD)
    user.save()
    return user


def save(page, name: str) -> None:
    folder = os.environ.get("API_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / name), full_page=False)


def test_swagger_ui_and_redoc_draw_the_document_from_our_own_files(
    live_server, account, django_user_model
):
    # given a staff user signed in to the admin
    staff(django_user_model, account)
    with chromium_page(live_server) as page:
        log_in(page, live_server, "ann")
        # when the two pages are opened
        page.goto(f"{live_server.url}/api/v1/docs")
        page.wait_for_selector(".opblock-summary-path")
        swagger_paths = page.locator(".opblock-summary-path").all_inner_texts()
        save(page, "api-swagger.png")
        page.goto(f"{live_server.url}/api/v1/redoc")
        page.get_by_text("/api/v1/surveys/resend-dead-letters").first.wait_for()
        save(page, "api-redoc.png")
        # then every operation is drawn, and nothing came from another host
        assert any("/api/v1/pgap/figures" in p for p in swagger_paths)
        assert any("/api/v1/events/{id}/reprocess" in p for p in swagger_paths)
        assert page.foreign == []
        # Redoc's footer always shows its vendor's logo from its CDN: the page's policy
        # refuses it (nothing is loaded from another host), and nothing else is refused.
        refused_logo = [e for e in page.errors if "cdn.redoc.ly/redoc/logo-mini.svg" in e]
        assert len(refused_logo) <= 1
        assert [e for e in page.errors if e not in refused_logo] == []
        assert page.get_by_text("Dixa survey relay: management API").first.is_visible()


def test_the_token_list_reads_at_1280_px(live_server, account, django_user_model):
    # given a staff user with two tokens, one revoked
    user = staff(django_user_model, account)
    management_token_create(user=user, name="laptop")
    revoked = management_token_create(user=user, name="ci").token
    revoked.revoked_at = revoked.created_at
    revoked.save()
    with chromium_page(live_server) as page:
        log_in(page, live_server, "ann")
        # when
        page.goto(f"{live_server.url}/{settings.ADMIN_URL}integrations/managementtoken/")
        save(page, "api-tokens.png")
        # then the list fits the window and says which token is revoked
        width = page.evaluate("document.documentElement.scrollWidth")
        rows = page.locator("#result_list tbody tr").all_inner_texts()
        assert width <= 1280
        assert len(rows) == 2
        assert any("revoked" in row and "ci" in row for row in rows)
        assert page.foreign == []

"""The management API's OpenAPI document is valid (as CI checks it) and its pages are served
from our own static files to staff only."""

import re

import pytest
from django.core.management import call_command
from django.test import Client

from tests.integrations.api import make_staff, token_client
from tests.integrations.test_csp import directives

pytestmark = pytest.mark.django_db


def test_the_schema_validates_without_warnings(tmp_path):
    # when: the command CI runs (it raises on any warning or validation error)
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    # then
    text = target.read_text()
    for path in ("/api/v1/events", "/api/v1/surveys/resend-dead-letters", "/api/v1/pgap/figures"):
        assert f"  {path}:" in text
    assert "/api/dixa/relay" not in text  # the webhooks are not part of it


def test_staff_read_the_pages_with_their_session_or_a_token(account, django_user_model):
    # given
    staff = make_staff(django_user_model, "alice", account)
    browser = Client()
    browser.force_login(staff)
    # when
    pages = {path: browser.get(f"/api/v1/{path}") for path in ("docs", "redoc", "schema")}
    by_token = token_client(staff).get("/api/v1/schema?format=json")
    # then
    assert all(page.status_code == 200 for page in pages.values())
    assert by_token.status_code == 200 and by_token.json()["info"]["version"] == "1"
    for path in ("docs", "redoc"):
        html = pages[path].content.decode()
        # every script, style and font comes from this site, none from a CDN
        assert not re.search(r"(src|href)=\"https?://", html), path
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in pages["docs"].content.decode()
    assert "/static/drf_spectacular_sidecar/redoc/" in pages["redoc"].content.decode()


def test_the_pages_answer_with_a_trailing_slash_too(account, django_user_model):
    # given
    browser = Client()
    browser.force_login(make_staff(django_user_model, "alice", account))
    for path in ("docs", "redoc", "schema"):
        # when
        response = browser.get(f"/api/v1/{path}/?lang=en")
        # then it leads to the page, query string and all
        assert response.status_code == 302, path
        assert response.url == f"/api/v1/{path}?lang=en"
        assert browser.get(response.url).status_code == 200, path


def test_each_page_allows_only_what_it_needs_and_only_from_this_site(account, django_user_model):
    # given
    browser = Client()
    browser.force_login(make_staff(django_user_model, "alice", account))
    # when
    swagger = directives(browser.get("/api/v1/docs"))
    redoc = directives(browser.get("/api/v1/redoc"))
    # then neither names another host, nor may be framed
    for policy in (swagger, redoc):
        assert not [source for sources in policy.values() for source in sources if "." in source]
        assert policy["img-src"] == ["'self'", "data:"] and policy["connect-src"] == ["'self'"]
        assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
    # Swagger UI starts from an inline script; Redoc from its bundle, and searches in a worker
    assert swagger["script-src"] == ["'self'", "'unsafe-inline'"]
    assert redoc["script-src"] == ["'self'"] and redoc["worker-src"] == ["'self'", "blob:"]
    assert "worker-src" not in swagger


def test_the_pages_are_refused_to_anyone_else(account, django_user_model):
    # given
    member = make_staff(django_user_model, "bob", account, is_staff=False)
    browser = Client()
    browser.force_login(member)
    # then
    for path in ("docs", "redoc", "schema"):
        assert Client().get(f"/api/v1/{path}").status_code == 401
        assert browser.get(f"/api/v1/{path}").status_code == 403


def test_the_sidecars_files_are_served(client):
    # when
    response = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    # then
    assert response.status_code == 200

"""`/` answers with a landing page that leads to the admin, so the admin's "View site" link
and a bare visit never end on a 404."""

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_landing_page_leads_to_the_admin(client):
    page = client.get("/")
    assert page.status_code == 200
    assert f'href="{reverse("admin:index")}"' in page.content.decode()


def test_the_admins_view_site_link_opens_a_page(admin_client):
    index = admin_client.get(reverse("admin:index"))
    site_url = index.context["site_url"]
    assert f'href="{site_url}"' in index.content.decode()
    assert admin_client.get(site_url).status_code == 200


def test_an_unknown_path_is_a_plain_404_without_debug(client):
    assert not settings.DEBUG
    page = client.get("/no-such-page")
    assert page.status_code == 404
    assert "URLconf" not in page.content.decode()


def test_an_unknown_admin_page_leads_back_to_the_admin(admin_client):
    page = admin_client.get(f"/{settings.ADMIN_URL}no-such-page/")
    assert page.status_code == 404
    assert f'href="{reverse("admin:index")}"' in page.content.decode()


def test_pages_name_the_icon_and_favicon_ico_leads_to_it(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 302 and icon["Location"].endswith("relay/favicon.svg")
    assert client.get(icon["Location"]).status_code == 200
    for page in ("/", reverse("admin:login")):
        assert 'rel="icon" href="' + icon["Location"] in client.get(page).content.decode()


def test_the_admin_names_third_party_apps_for_what_they_hold(admin_client):
    apps = {
        app["app_label"]: app["name"]
        for app in admin_client.get(reverse("admin:index")).context["app_list"]
    }
    assert apps["axes"] == "Login lockouts (django-axes)"
    assert apps["otp_totp"] == "Second-factor devices"

"""A second factor for the admin (TOTP): an account can require one of its staff; they enroll
once, then sign in with password and code; whoever enrolled is always asked for the code."""

import re
import time

import pytest
import time_machine
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.integrations.factories import AccountFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"


def code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


@pytest.fixture(autouse=True)
def no_wait_after_a_wrong_code(settings):
    """django-otp makes each wrong code double the wait before the next try; these tests
    type the right code at once (test_wrong_codes_are_throttled keeps the wait)."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


@pytest.fixture
def staff(django_user_model):
    def make(username, *, strict: bool):
        user = django_user_model.objects.create_user(username, password=PASSWORD, is_staff=True)
        AccountFactory(name=f"{username}'s", require_two_factor=strict).members.add(user)
        return user

    return make


def sign_in(client, username, token=""):
    return client.post(
        reverse("admin:login"),
        {
            "username": username,
            "password": PASSWORD,
            "otp_token": token,
            "next": reverse("admin:index"),
        },
    )


def enroll(client, user) -> TOTPDevice:
    page = client.get(reverse("admin:two_factor"))
    assert page.status_code == 200 and "<svg" in page.content.decode()
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page.content.decode())[1]
    assert secret.replace(" ", "")  # the key, typed by hand if the QR code can't be scanned
    wrong = client.post(reverse("admin:two_factor"), {"otp_token": "000000"})
    assert "That code is not right" in wrong.content.decode() or code(device) == "000000"
    done = client.post(reverse("admin:two_factor"), {"otp_token": code(device)})
    assert done.status_code == 302 and done["Location"] == reverse("admin:index")
    device.refresh_from_db()
    assert device.confirmed
    return device


def test_without_the_requirement_a_password_is_enough(client, staff):
    staff("relaxed", strict=False)
    assert sign_in(client, "relaxed").status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_required_second_factor_is_enrolled_after_the_password(client, staff):
    user = staff("strict", strict=True)
    assert sign_in(client, "strict").status_code == 302
    # the admin sends them to set up an authenticator instead of letting them in
    index = client.get(reverse("admin:index"))
    assert index.status_code == 302
    assert client.get(index["Location"])["Location"].startswith(reverse("admin:two_factor"))
    enroll(client, user)
    assert client.get(reverse("admin:index")).status_code == 200


def test_once_enrolled_the_code_is_asked_at_every_sign_in(client, staff):
    user = staff("strict", strict=True)
    sign_in(client, "strict")
    device = enroll(client, user)
    client.logout()

    without = sign_in(client, "strict")
    assert without.status_code == 200
    assert "Enter the current code from your authenticator app." in without.content.decode()
    wrong = sign_in(client, "strict", token="123456" if code(device) != "123456" else "654321")
    assert wrong.status_code == 200
    # a code is good once: the enrollment's own code is refused, the next step's accepted
    assert sign_in(client, "strict", token=code(device)).status_code == 200
    with time_machine.travel(time.time() + device.step, tick=True):
        assert sign_in(client, "strict", token=code(device)).status_code == 302
        assert client.get(reverse("admin:index")).status_code == 200


def test_superusers_need_it_when_any_account_requires_it(client, django_user_model, staff):
    django_user_model.objects.create_superuser("root", password=PASSWORD)
    staff("relaxed", strict=False)
    sign_in(client, "root")
    assert client.get(reverse("admin:index")).status_code == 200
    client.logout()
    staff("strict", strict=True)
    sign_in(client, "root")
    assert client.get(reverse("admin:index")).status_code == 302


def test_the_setup_page_needs_a_signed_in_staff_user(client):
    answer = client.get(reverse("admin:two_factor"))
    assert answer.status_code == 302 and reverse("admin:login") in answer["Location"]


def test_wrong_codes_are_throttled(client, staff, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 10
    user = staff("strict", strict=True)
    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    wrong = "123456" if code(device) != "123456" else "654321"
    assert sign_in(client, "strict", token=wrong).status_code == 200
    # right away, even the right code is refused, with a reason
    refused = sign_in(client, "strict", token=code(device))
    assert refused.status_code == 200
    assert (
        "After a wrong code, wait 10 seconds before the next try (each wrong code doubles "
        "the wait)." in refused.content.decode()
    )


def wrong_code(device: TOTPDevice) -> str:
    return "123456" if code(device) != "123456" else "654321"


def test_the_login_page_says_how_long_to_wait_after_wrong_codes(client, staff, settings):
    # given django-otp's throttle: after n wrong codes, factor × 2^(n-1) seconds
    settings.OTP_TOTP_THROTTLE_FACTOR = 1
    user = staff("strict", strict=True)
    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    with time_machine.travel(time.time(), tick=False) as clock:
        # when one wrong code is typed
        first = sign_in(client, "strict", token=wrong_code(device)).content.decode()
        # then the wrong one is called wrong, not "too many"
        assert "Enter the current code from your authenticator app." in first
        assert "wrong codes" not in first
        for _ in range(2):  # three wrong codes in a row, each after its wait
            clock.shift(5)
            sign_in(client, "strict", token=wrong_code(device))
        refused = sign_in(client, "strict", token=code(device)).content.decode()
        assert "After 3 wrong codes in a row, wait 4 seconds before the next try" in refused
        clock.shift(4)
        assert sign_in(client, "strict", token=code(device)).status_code == 302


def test_the_setup_page_says_a_code_was_refused_for_the_wait_not_as_wrong(client, staff, settings):
    # given a user setting up their authenticator, with django-otp's default throttle
    settings.OTP_TOTP_THROTTLE_FACTOR = 1
    user = staff("strict", strict=True)
    sign_in(client, "strict")
    client.get(reverse("admin:two_factor"))
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    page = reverse("admin:two_factor")
    with time_machine.travel(time.time(), tick=False) as clock:
        # when a wrong code is followed at once by the right one
        wrong = client.post(page, {"otp_token": wrong_code(device)}).content.decode()
        refused = client.post(page, {"otp_token": code(device)})
        # then the first is called wrong, the second refused for the wait (not called wrong)
        assert "That code is not right; try the current one." in wrong
        assert refused.status_code == 200
        text = refused.content.decode()
        assert "After a wrong code, wait 1 second before the next try" in text
        assert "That code is not right" not in text
        # and once the wait is over, the same code goes through
        clock.shift(1)
        done = client.post(page, {"otp_token": code(device)})
    assert done.status_code == 302
    device.refresh_from_db()
    assert device.confirmed


def test_the_setup_page_has_a_log_out_that_logs_out(client, staff):
    # given a user sent to set up a second factor
    staff("strict", strict=True)
    sign_in(client, "strict")
    # when they open the setup page
    page = client.get(reverse("admin:two_factor")).content.decode()
    # then it offers Log out, a POST form to the admin's logout
    logout = reverse("admin:logout")
    assert f'<form id="logout-form" method="post" action="{logout}">' in page
    assert 'form="logout-form"' in page  # beside Confirm too
    # and posting it signs them out (Django's own route sent them back to the index)
    client.post(logout)
    assert "_auth_user_id" not in client.session
    answer = client.get(reverse("admin:two_factor"))
    assert answer.status_code == 302 and reverse("admin:login") in answer["Location"]


def test_the_requirement_warns_it_applies_at_the_next_page(client, django_user_model):
    # given a superuser on an account's change form
    root = django_user_model.objects.create_superuser("root", password=PASSWORD)
    client.force_login(root)
    account = AccountFactory(name="Acme")
    # when they look at "Require a second factor"
    page = client.get(reverse("admin:integrations_account_change", args=[account.pk]))
    # then its help says who will be asked, and when
    assert (
        "its members and every superuser, you included if you are one, are asked to set up "
        "a second factor" in page.content.decode()
    )
    assert "at their next page" in page.content.decode()


def test_the_setup_page_goes_on_only_to_this_site(client, staff):
    user = staff("strict", strict=True)
    sign_in(client, "strict")
    client.get(reverse("admin:two_factor"))
    device = TOTPDevice.objects.get(user=user)
    answer = client.post(
        reverse("admin:two_factor") + "?next=https://evil.example/", {"otp_token": code(device)}
    )
    assert answer.status_code == 302 and answer["Location"] == reverse("admin:index")


def test_after_enrolling_they_land_on_the_whole_page_they_asked_for(client, staff):
    # given a signed-in user who still owes a second factor opens a filtered list
    user = staff("strict", strict=True)
    sign_in(client, "strict")
    asked = reverse("admin:ivr_surveytrigger_changelist") + "?status__exact=failed&o=-2"
    to_login = client.get(asked)
    to_setup = client.get(to_login["Location"])
    # when they enroll (a wrong code first) on the page they are sent to
    setup = to_setup["Location"]
    client.get(setup)
    device = TOTPDevice.objects.get(user=user)
    client.post(setup, {"otp_token": "000000" if code(device) != "000000" else "111111"})
    done = client.post(setup, {"otp_token": code(device)})
    # then they land on that list, its filter and its order included
    assert done.status_code == 302 and done["Location"] == asked

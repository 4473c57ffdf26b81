"""The admin login is throttled (django-axes): wrong passwords lock out one username from one
address, the lock answers 429 even to the right password, and nothing typed is kept."""

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        "operator", password=PASSWORD, is_staff=True, is_superuser=True
    )


def login(client, username, password):
    return client.post(
        reverse("admin:login"),
        {"username": username, "password": password, "next": reverse("admin:index")},
    )


def test_right_password_logs_in(client, staff):
    assert login(client, "operator", PASSWORD).status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_repeated_wrong_passwords_lock_the_username_out(client, staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login(client, "operator", "guess").status_code == 200  # the form again
    locked = login(client, "operator", "guess")
    assert locked.status_code == 429

    # Even the right password is refused while the lock lasts, and no session is opened.
    assert login(client, "operator", PASSWORD).status_code == 429
    assert client.get(reverse("admin:index")).status_code == 302  # to the login page


def test_a_lock_is_per_username(client, staff, django_user_model, settings):
    django_user_model.objects.create_user("colleague", password=PASSWORD, is_staff=True)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "operator", "guess")
    assert login(client, "colleague", PASSWORD).status_code == 302


def test_wrong_passwords_are_not_stored(client, staff):
    login(client, "operator", "my-secret-guess")
    attempt = AccessAttempt.objects.get()
    assert attempt.failures_since_start == 1
    assert "my-secret-guess" not in attempt.post_data

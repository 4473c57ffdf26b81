"""Every add form of ours with an account to choose (API key, IVR mapping, Dixa connection,
P-GAP and card setup, alert settings, response hook, coaching period) has it chosen already
when the user can choose exactly one (AccountScopedAdmin.get_changeform_initial_data)."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from integrations.admin.scoping import account_fields
from integrations.services.roles import ACCOUNT_ADMIN, roles_sync
from tests.integrations.factories import AccountFactory
from tests.integrations.test_admin_scoping import our_admins

pytestmark = pytest.mark.django_db


ADD_FORMS = [
    "admin:integrations_alertsettings_add",
    "admin:integrations_apikey_add",
    "admin:integrations_dixaconnection_add",
    "admin:ivr_ivrmapping_add",
    "admin:pgap_cardsetup_add",
    "admin:pgap_coachingperiod_add",
    "admin:pgap_pgapsetup_add",
    "admin:pgap_responsehook_add",
]


def test_every_add_form_with_an_account_to_choose_is_tested(rf, admin_user):
    request = rf.get("/")
    request.user = admin_user
    found = [
        f"admin:{model._meta.app_label}_{model._meta.model_name}_add"
        for model, model_admin in our_admins()
        if account_fields(model) and model_admin.has_add_permission(request)
    ]
    assert sorted(found) == ADD_FORMS


def initial_account(client, url_name: str, query: str = ""):
    response = client.get(reverse(url_name) + query)
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "account" in form.fields
    return form.initial.get("account"), response.content.decode()


@pytest.fixture
def account_admin(client, django_user_model):
    """An account admin of Acme only; Globex is another tenant's."""
    roles_sync()
    acme, globex = AccountFactory(name="Acme"), AccountFactory(name="Globex")
    user = django_user_model.objects.create_user("ada", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=ACCOUNT_ADMIN))
    acme.members.add(user)
    client.force_login(user)
    return {"client": client, "user": user, "acme": acme, "globex": globex}


@pytest.mark.parametrize("url_name", ADD_FORMS)
def test_the_only_account_a_user_may_choose_is_chosen(account_admin, url_name):
    acme = account_admin["acme"]
    chosen, page = initial_account(account_admin["client"], url_name)
    assert chosen == acme.pk
    assert f'<option value="{acme.pk}" selected>Acme</option>' in page


@pytest.mark.parametrize("url_name", ADD_FORMS)
def test_with_two_accounts_to_choose_from_none_is_chosen(account_admin, url_name):
    account_admin["globex"].members.add(account_admin["user"])
    chosen, _ = initial_account(account_admin["client"], url_name)
    assert chosen is None


def test_a_superuser_of_a_single_account_install_has_it_chosen(admin_client):
    acme = AccountFactory(name="Acme")
    chosen, _ = initial_account(admin_client, "admin:integrations_apikey_add")
    assert chosen == acme.pk


def test_the_account_in_the_query_string_stands(admin_client):
    AccountFactory(name="Acme")
    globex = AccountFactory(name="Globex")
    chosen, _ = initial_account(admin_client, "admin:ivr_ivrmapping_add", f"?account={globex.pk}")
    assert chosen == str(globex.pk)


def test_an_account_that_has_its_one_record_already_is_not_chosen_for_another(account_admin):
    from integrations.models import DixaConnection

    # given Acme, the user's only account, connected to Dixa already
    DixaConnection.objects.create(account=account_admin["acme"], api_token="t")
    # when the user opens Add Dixa connection, then nothing is chosen for them
    chosen, _ = initial_account(account_admin["client"], "admin:integrations_dixaconnection_add")
    assert chosen is None
    # while an add form of a record an account has many of still chooses Acme
    chosen, _ = initial_account(account_admin["client"], "admin:integrations_apikey_add")
    assert chosen == account_admin["acme"].pk

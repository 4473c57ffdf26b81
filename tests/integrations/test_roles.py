"""The two shipped roles, as staff users of one account over HTTP: every list (and each
choice of each of its filters), form, autocomplete and action shows and touches only their
account's objects; operators run the actions but add, change and delete no configuration."""

from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import timezone

from integrations.alerts.models import AlertIncident, AlertSettings
from integrations.audit.models import AuditEntry
from integrations.audit.services import audit_record
from integrations.models import Account, ApiKey, InboundEvent
from integrations.services.roles import ACCOUNT_ADMIN, APPS, OPERATOR, roles_sync
from ivr.models import IvrMapping, NpsTodayDelivery, SurveyTrigger
from tests.integrations.test_admin_scoping import (
    MARKER,
    admin_url,
    assert_nothing_of_theirs,
    our_admins,
    tenants,  # noqa: F401  (fixture)
)

pytestmark = pytest.mark.django_db
ROLES = (OPERATOR, ACCOUNT_ADMIN)


def context_value(response, key):
    """A value of the page's template context; None for a page that has none (e.g. P-GAP's
    analytics page is a list of our own, without Django's changelist)."""
    try:
        return response.context[key] if response.context else None
    except KeyError:
        return None


def action_names(response) -> list[str]:
    form = context_value(response, "action_form")
    return [name for name, _ in form.fields["action"].choices if name] if form else []


def with_alerts_and_audit(tenant: dict, label: str) -> dict:
    """A tenant of make_tenant, plus its alert settings, an incident and an audit entry."""
    account = tenant[Account]
    now = timezone.now()
    tenant[AlertSettings] = AlertSettings.objects.create(
        account=account, email_recipients=f"{label.lower()}@example.com"
    )
    tenant[AlertIncident] = AlertIncident.objects.create(
        account=account,
        condition="dead_letters",
        detail=f"{label} dead letters",
        opened_at=now,
        last_seen_at=now,
    )
    (tenant[AuditEntry],) = audit_record(
        actor=f"{label}-command",
        action="survey resend",
        objects=[tenant[SurveyTrigger]],
        summary=f"{label} resend",
        result="1 resent",
    )
    return tenant


@pytest.fixture
def full_tenants(tenants):  # noqa: F811
    mine, theirs = tenants
    return with_alerts_and_audit(mine, "Mine"), with_alerts_and_audit(theirs, MARKER)


@pytest.fixture(params=ROLES)
def role_client(request, client, full_tenants, django_user_model):
    user = django_user_model.objects.create_user(
        f"user-{request.param}", password="pw", is_staff=True
    )
    user.groups.add(Group.objects.get(name=request.param))
    full_tenants[0][Account].members.add(user)
    client.force_login(user)
    client.role = request.param
    return client


def test_migrate_ships_both_roles_without_deletes():
    # given the groups as migrate left them (roles_sync is idempotent)
    roles_sync()
    operator = set(Group.objects.get(name=OPERATOR).permissions.values_list("codename", flat=True))
    admin = set(
        Group.objects.get(name=ACCOUNT_ADMIN).permissions.values_list("codename", flat=True)
    )
    views = set(
        Permission.objects.filter(
            content_type__app_label__in=APPS, codename__startswith="view_"
        ).values_list("codename", flat=True)
    )
    # then both see everything, and neither deletes anything
    assert views <= operator and views <= admin
    assert not {p for p in operator | admin if p.startswith("delete_")}
    # operators run the actions on records, and add or change no configuration
    assert {"change_surveytrigger", "change_inboundevent", "change_npstodaydelivery"} <= operator
    assert not {p for p in operator if p.startswith("add_")}
    assert not {"change_ivrmapping", "change_apikey", "change_signingsecret"} & operator
    assert not {"change_account", "change_alertsettings"} & operator
    # account admins add and change mappings, keys, secrets and alert settings
    for codename in ("ivrmapping", "apikey", "signingsecret", "alertsettings"):
        assert {f"add_{codename}", f"change_{codename}"} <= admin
    assert "change_account" in admin


def test_every_list_and_each_of_its_filter_choices_shows_only_their_accounts(role_client):
    for model, _ in our_admins():
        label = model._meta.label
        url = admin_url(model, "changelist")
        listing = role_client.get(url)
        assert listing.status_code == 200, (role_client.role, label)
        assert_nothing_of_theirs(listing, f"{role_client.role}: {label} list")
        changelist = context_value(listing, "cl")
        if changelist is None:
            continue
        for spec in changelist.filter_specs:
            for choice in spec.choices(changelist):
                page = role_client.get(url + choice["query_string"])
                where = f"{role_client.role}: {label} filter {spec.title} {choice['display']}"
                assert page.status_code == 200, where
                assert_nothing_of_theirs(page, where)


def test_every_change_page_of_theirs_is_hidden_and_of_mine_is_shown(role_client, full_tenants):
    mine, theirs = full_tenants
    for model, _ in our_admins():
        if model not in mine:
            continue
        page = role_client.get(admin_url(model, "change", mine[model].pk))
        assert page.status_code == 200, (role_client.role, model._meta.label)
        assert_nothing_of_theirs(page, f"{model._meta.label} change page")
        hidden = role_client.get(admin_url(model, "change", theirs[model].pk), follow=True)
        assert hidden.redirect_chain, (role_client.role, model._meta.label)
        assert not context_value(hidden, "original"), (role_client.role, model._meta.label)


def test_every_autocomplete_offers_only_their_accounts_objects(role_client):
    for model, _ in our_admins():
        for field in model._meta.fields:
            if not field.is_relation:
                continue
            params = {
                "app_label": model._meta.app_label,
                "model_name": model._meta.model_name,
                "field_name": field.name,
                "term": "",
            }
            response = role_client.get(reverse("admin:autocomplete") + "?" + urlencode(params))
            assert_nothing_of_theirs(response, f"{model._meta.label}.{field.name} autocomplete")


def test_no_action_of_a_role_touches_another_accounts_objects(role_client, full_tenants):
    _, theirs = full_tenants
    for model, _ in our_admins():
        target = theirs.get(model)
        if target is None:
            continue
        url = admin_url(model, "changelist")
        before = list(model.objects.filter(pk=target.pk).values())
        for action in action_names(role_client.get(url)):
            response = role_client.post(
                url,
                {
                    "action": action,
                    "confirmed": "yes",
                    "_selected_action": [target.pk],
                    "post": "yes",
                },
            )
            assert response.status_code < 500, (model._meta.label, action)
            assert list(model.objects.filter(pk=target.pk).values()) == before, (
                f"{role_client.role}: {action} changed another account's {model._meta.label}"
            )


def test_neither_role_is_offered_a_delete_anywhere(role_client, full_tenants):
    mine, _ = full_tenants
    for model, _ in our_admins():
        assert "delete_selected" not in action_names(
            role_client.get(admin_url(model, "changelist"))
        ), (role_client.role, model._meta.label)
        if model in mine:
            delete = role_client.get(admin_url(model, "delete", mine[model].pk))
            assert delete.status_code == 403, (role_client.role, model._meta.label)


def test_an_operator_runs_the_actions_and_they_are_audited(client, full_tenants, django_user_model):
    # given an operator of the first account
    mine, _ = full_tenants
    user = django_user_model.objects.create_user("olga", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=OPERATOR))
    mine[Account].members.add(user)
    client.force_login(user)
    trigger = mine[SurveyTrigger]  # a dead letter
    # when they resend it and reprocess its event
    for model, action, pk in (
        (SurveyTrigger, "resend", trigger.pk),
        (InboundEvent, "reprocess", mine[InboundEvent].pk),
    ):
        response = client.post(
            admin_url(model, "changelist"),
            {"action": action, "confirmed": "yes", "_selected_action": [pk]},
        )
        assert response.status_code == 302
    # then the survey is pending again, and both actions are in the audit trail as theirs
    trigger.refresh_from_db()
    assert trigger.status == SurveyTrigger.Status.PENDING
    entries = AuditEntry.objects.filter(actor=user)
    assert {e.action for e in entries} == {"survey resend", "event reprocess"}
    assert all(e.account_id == mine[Account].pk for e in entries)


def test_an_operator_adds_and_changes_no_configuration(client, full_tenants, django_user_model):
    mine, _ = full_tenants
    user = django_user_model.objects.create_user("otto", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=OPERATOR))
    mine[Account].members.add(user)
    client.force_login(user)
    for model in (IvrMapping, ApiKey, AlertSettings):
        assert client.get(admin_url(model, "add")).status_code == 403, model
    mapping = mine[IvrMapping]
    client.post(admin_url(IvrMapping, "change", mapping.pk), {"name": "renamed"})
    mapping.refresh_from_db()
    assert mapping.name == "Mine mapping"
    # the delivery policy: they re-enable a key (change), but do not tune its retries
    policy = mine[NpsTodayDelivery]
    client.post(
        admin_url(NpsTodayDelivery, "change", policy.pk), {"max_attempts": 1, "retry_seconds": 1}
    )
    policy.refresh_from_db()
    assert (policy.max_attempts, policy.retry_seconds) == (5, 60)


def test_an_account_admin_issues_a_key_for_their_account(client, full_tenants, django_user_model):
    mine, theirs = full_tenants
    user = django_user_model.objects.create_user("ada", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=ACCOUNT_ADMIN))
    mine[Account].members.add(user)
    client.force_login(user)
    # when they issue a key for their account, and try for the other one
    url = admin_url(ApiKey, "add")
    assert client.post(url, {"account": mine[Account].pk, "name": "dixa-2"}).status_code == 302
    refused = client.post(url, {"account": theirs[Account].pk, "name": "dixa-3"})
    # then only theirs is issued, and the issue is audited
    assert refused.status_code == 200  # the form: not one of the choices
    assert ApiKey.objects.filter(name="dixa-2", account=mine[Account]).exists()
    assert not ApiKey.objects.filter(name="dixa-3").exists()
    entry = AuditEntry.objects.get(actor=user)
    assert entry.action == "API key add" and entry.account_id == mine[Account].pk

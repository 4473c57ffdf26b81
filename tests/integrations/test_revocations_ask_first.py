"""Actions that cannot be undone (revoking a key, a token or a hook, removing a
subscription in nps.today) ask first: the first click shows how many of the selected rows
they would change and what follows, and changes nothing; the second runs them."""

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.models import ApiKey, ManagementToken
from integrations.services.api_keys import api_key_create
from integrations.services.management_tokens import management_token_create
from pgap.models import ResponseHook, ResponseSubscription
from pgap.services.hooks import response_hook_create
from tests.integrations.factories import AccountFactory
from tests.support.admin_pages import buttons

pytestmark = pytest.mark.django_db


def _api_keys(admin_user):
    account = AccountFactory()
    live = api_key_create(account=account, name="live").api_key
    gone = api_key_create(account=account, name="gone").api_key
    ApiKey.objects.filter(pk=gone.pk).update(revoked_at=timezone.now())
    return "integrations_apikey", "revoke", live, gone, "Revoke 1 of 2 selected?", "answered 401"


def _tokens(admin_user):
    live = management_token_create(user=admin_user, name="live").token
    gone = management_token_create(user=admin_user, name="gone").token
    ManagementToken.objects.filter(pk=gone.pk).update(revoked_at=timezone.now())
    return (
        "integrations_managementtoken",
        "revoke",
        live,
        gone,
        "Revoke 1 of 2 selected?",
        "the management API answers 401",
    )


def _hooks(admin_user):
    account = AccountFactory()
    live = response_hook_create(account=account).hook
    gone = response_hook_create(account=account).hook
    ResponseHook.objects.filter(pk=gone.pk).update(revoked_at=timezone.now())
    return "pgap_responsehook", "revoke", live, gone, "Revoke 1 of 2 selected?", "are refused"


def _subscriptions(admin_user):
    account = AccountFactory()
    hook = response_hook_create(account=account).hook
    live, gone = (
        ResponseSubscription.objects.create(
            account=account, campaign_id=campaign, hook=hook, state=state
        )
        for campaign, state in ((7232, "active"), (7300, "removed"))
    )
    return (
        "pgap_responsesubscription",
        "remove",
        live,
        gone,
        "Remove 1 of 2 selected in nps.today?",
        "nps.today stops posting",
    )


def _changed(row) -> bool:
    row.refresh_from_db()
    if isinstance(row, ResponseSubscription):
        return row.state == ResponseSubscription.State.REMOVED
    return row.revoked_at is not None


@pytest.mark.parametrize("make", [_api_keys, _tokens, _hooks, _subscriptions])
def test_the_first_click_counts_and_changes_nothing_the_second_runs(admin_client, admin_user, make):
    # given a live row and one the action would leave alone
    model, action, live, gone, title, consequence = make(admin_user)
    changelist = reverse(f"admin:{model}_changelist")
    selected = {"action": action, "_selected_action": [live.pk, gone.pk]}
    # when the admin runs the action: a page that counts, names what follows, changes nothing
    asked = admin_client.post(changelist, selected)
    page = asked.content.decode()
    assert asked.status_code == 200
    assert title in page and consequence in page
    assert not _changed(live)
    # and confirms: the live row is changed
    done = admin_client.post(changelist, {**selected, "confirmed": "yes"})
    assert done.status_code == 302
    assert _changed(live)


def test_an_active_keys_page_offers_revoke_and_a_revoked_ones_does_not(admin_client, admin_user):
    _, _, live, gone, *_ = _api_keys(admin_user)
    page = admin_client.get(reverse("admin:integrations_apikey_change", args=[live.pk]))
    assert "Revoke" in buttons(page.content.decode())
    page = admin_client.get(reverse("admin:integrations_apikey_change", args=[gone.pk]))
    assert buttons(page.content.decode()) == {}


def test_who_may_only_view_api_keys_cannot_revoke_them(client, admin_user, staff_user_factory):
    # given an operator of the key's account: they see keys, they do not manage them
    _, _, live, *_ = _api_keys(admin_user)
    client.force_login(staff_user_factory("operator", live.account, perms=("view_apikey",)))
    # when they open the key and post the action, confirmed
    page = client.get(reverse("admin:integrations_apikey_change", args=[live.pk]))
    client.post(
        reverse("admin:integrations_apikey_changelist"),
        {"action": "revoke", "confirmed": "yes", "_selected_action": [live.pk]},
    )
    # then no button was offered, and the key still works
    assert page.status_code == 200 and buttons(page.content.decode()) == {}
    live.refresh_from_db()
    assert live.revoked_at is None

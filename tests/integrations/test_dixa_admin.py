"""The Dixa connection in the admin: buttons queue named actions (POST only, change
permission, the user's accounts only), the record cannot be deleted, Dixa's logs are
read-only, ivr's mapping edits ask for a sync; manage.py dixa_connect; and the page in
Chromium at 1280 px (DIXA_SCREENSHOT=<path> saves it as docs/dixa.md shows it). The two
Disconnects ask first, naming what they will revoke; the other buttons act on one click."""

import json
import os
import threading
from collections import deque
from datetime import datetime
from unittest import mock

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from integrations.audit.models import AuditEntry
from integrations.models import DixaConnection, DixaDeliveryLog, SigningSecret
from integrations.services import dixa_monitor
from integrations.services.api_keys import api_key_create
from integrations.services.dixa_connect import dixa_connect
from integrations.tasks import dixa_action
from tests.integrations.factories import AccountFactory, InboundEventFactory
from tests.ivr.factories import QUEUE_ID, IvrMappingFactory

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-the-browser"  # noqa: S105
PERMS = ["view_dixaconnection", "change_dixaconnection", "add_dixaconnection"]


def staff(django_user_model, username, *accounts, perms=PERMS):
    user = django_user_model.objects.create_user(username, password=PASSWORD, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=perms))
    for account in accounts:
        account.members.add(user)
    return user


def in_own_connection(run, *args):
    """`run(*args)` for another thread (the browser's event loop holds this one), closing
    the database connection it opens."""

    def target():
        try:
            run(*args)
        finally:
            connections.close_all()

    return target


def assert_queued(publish, account_id, action):
    """`publish` (the task's apply_async) was called once, for `action` on the account,
    with the request's stamp."""
    publish.assert_called_once()
    account, queued, stamp = publish.call_args.kwargs["args"]
    assert (account, queued) == (account_id, action)
    assert datetime.fromisoformat(stamp) <= timezone.now()
    assert publish.call_args.kwargs["retry"] is False


def action_url(connection, action):
    return reverse("admin:integrations_dixaconnection_action", args=[connection.pk, action])


@pytest.fixture
def connection_factory():
    def make(account=None):
        return DixaConnection.objects.create(
            account=account or AccountFactory(), api_token="dixa-test-token"
        )

    return make


@pytest.fixture
def connection(account, connection_factory):
    return connection_factory(account)


def test_a_button_queues_its_action(client, django_user_model, connection):
    # given
    client.force_login(staff(django_user_model, "ann", connection.account))
    # when
    with mock.patch("integrations.tasks.dixa_action.apply_async") as publish:
        response = client.post(action_url(connection, "connect"), follow=True)
    # then
    assert_queued(publish, connection.account.pk, "connect")
    assert "Connect / repair for" in response.content.decode()
    # and the history records who asked
    history = client.get(
        reverse("admin:integrations_dixaconnection_history", args=[connection.pk])
    ).content.decode()
    assert "Dixa: Connect / repair requested" in history


def test_before_a_subscription_exists_connect_is_the_only_button(admin_client, connection):
    page = reverse("admin:integrations_dixaconnection_change", args=[connection.pk])
    text = admin_client.get(page).content.decode()
    assert 'id="dixa-connect"' in text
    assert 'id="dixa-delete"' not in text and 'id="dixa-key_rotate"' not in text
    assert "Connect sets it to the queues" in text
    # once connected, every action is offered
    connection.subscription_id = "cb452b81-6748-40ab-af85-6559b371bc5d"
    connection.save()
    text = admin_client.get(page).content.decode()
    assert all(f'id="dixa-{name}"' in text for name in ("key_rotate", "disable", "delete"))


SUBSCRIPTION = "cb452b81-6748-40ab-af85-6559b371bc5d"


@pytest.fixture
def connected(connection):
    """`connection` as Connect leaves it: a subscription, its relay key and signing secret."""
    connection.state = DixaConnection.State.CONNECTED
    connection.subscription_id = SUBSCRIPTION
    connection.api_key = api_key_create(account=connection.account, name="Dixa webhook").api_key
    connection.signing_secret = SigningSecret.objects.create(
        account=connection.account, label="Dixa webhook secret", secret="ab" * 15 + "9f3c"
    )
    connection.save()
    return connection


@pytest.mark.parametrize("method", ["get", "post"])
def test_disconnect_delete_first_shows_what_it_will_do_and_does_nothing(
    client, django_user_model, connected, method
):
    # given
    client.force_login(staff(django_user_model, "ann", connected.account))
    # when ann presses "Disconnect (delete in Dixa)" (the button GETs; a bare POST is the same)
    with mock.patch("integrations.tasks.dixa_action.apply_async") as publish:
        response = getattr(client, method)(action_url(connected, "delete"))
    # then a page names the subscription, the key revoked and the secret deactivated
    assert response.status_code == 200
    text = response.content.decode()
    assert f"Dixa deletes the webhook subscription <code>{SUBSCRIPTION}</code>" in text
    assert f"The relay key <code>{connected.api_key.prefix}…</code> (Dixa webhook)" in text
    assert "The signing secret <code>••••9f3c</code> (Dixa webhook secret) is deactivated" in text
    assert 'value="Yes, disconnect (delete in Dixa)"' in text
    assert 'name="confirmed" value="yes"' in text
    # and nothing was queued, recorded or changed
    publish.assert_not_called()
    assert not AuditEntry.objects.exists()
    connected.refresh_from_db()
    assert connected.state == DixaConnection.State.CONNECTED
    assert connected.api_key.revoked_at is None and connected.signing_secret.is_active


def test_disconnect_disable_says_the_subscription_and_secret_stay(admin_client, connected):
    text = admin_client.get(action_url(connected, "disable")).content.decode()
    assert f"keeps the webhook subscription <code>{SUBSCRIPTION}</code>, disabled" in text
    assert f"The relay key <code>{connected.api_key.prefix}…</code>" in text
    assert "is deactivated" not in text and "The signing secret stays active" in text


def test_a_confirmed_disconnect_is_queued_and_audited(client, django_user_model, connected):
    # given
    client.force_login(staff(django_user_model, "ann", connected.account))
    # when ann confirms
    with mock.patch("integrations.tasks.dixa_action.apply_async") as publish:
        response = client.post(action_url(connected, "delete"), {"confirmed": "yes"}, follow=True)
    # then the action is queued and the page says so
    assert_queued(publish, connected.account.pk, "delete")
    assert "Disconnect (delete in Dixa) for" in response.content.decode()
    assert response.redirect_chain[-1][0] == reverse(
        "admin:integrations_dixaconnection_change", args=[connected.pk]
    )
    # and the audit trail records who asked
    entry = AuditEntry.objects.get()
    assert entry.actor_label == "ann" and "Disconnect (delete in Dixa) requested" in entry.summary


def test_disconnecting_what_is_not_connected_offers_nothing_to_confirm(admin_client, connected):
    DixaConnection.objects.filter(pk=connected.pk).update(state=DixaConnection.State.DISCONNECTED)
    text = admin_client.get(action_url(connected, "delete")).content.decode()
    assert "there is nothing to disconnect" in text
    assert 'value="Yes, disconnect (delete in Dixa)" class="danger" disabled' in text


@pytest.mark.parametrize("action", ["disable", "delete"])
def test_disconnect_keeps_its_permission_checks(client, django_user_model, connected, action):
    with mock.patch("integrations.tasks.dixa_action.apply_async") as publish:
        # a viewer is refused the page and the confirmation
        client.force_login(
            staff(django_user_model, "cid", connected.account, perms=["view_dixaconnection"])
        )
        assert client.get(action_url(connected, action)).status_code == 403
        assert client.post(action_url(connected, action), {"confirmed": "yes"}).status_code == 403
        # and so is a staff user of another account
        client.force_login(staff(django_user_model, "bob", AccountFactory()))
        assert client.get(action_url(connected, action)).status_code == 403
        assert client.post(action_url(connected, action), {"confirmed": "yes"}).status_code == 403
    publish.assert_not_called()


def test_the_other_buttons_still_act_on_one_post(admin_client, connected):
    with mock.patch("integrations.tasks.dixa_action.apply_async") as publish:
        assert admin_client.get(action_url(connected, "key_rotate")).status_code == 405
        admin_client.post(action_url(connected, "key_rotate"))
    assert_queued(publish, connected.account.pk, "key_rotate")


def test_the_bulk_disconnect_asks_first_then_queues_the_connected_only(
    admin_client, connected, connection_factory
):
    # given a connected and a never connected connection, both selected
    other = connection_factory()
    selected = {"action": "action_delete", "_selected_action": [connected.pk, other.pk]}
    url = reverse("admin:integrations_dixaconnection_changelist")
    with mock.patch("integrations.tasks.dixa_action.apply_async") as publish:
        # when the action is chosen
        asked = admin_client.post(url, selected)
        # then it asks first, saying what happens
        text = asked.content.decode()
        assert "Disconnect 1 of 2 selected (delete in Dixa)?" in text
        assert "deletes the subscription" in text and "signing secrets deactivated" in text
        publish.assert_not_called()
        # when it is confirmed
        admin_client.post(url, {**selected, "confirmed": "yes"})
    # then only the connected one is queued
    assert_queued(publish, connected.account.pk, "delete")


def test_a_broker_that_refuses_says_so(client, django_user_model, connection):
    # given
    client.force_login(staff(django_user_model, "ann", connection.account))
    # when
    with mock.patch(
        "integrations.tasks.dixa_action.apply_async", side_effect=ConnectionError("down")
    ):
        response = client.post(action_url(connection, "key_rotate"), follow=True)
    # then
    assert "could not be queued" in response.content.decode()


def test_buttons_take_post_only_and_a_known_action(client, django_user_model, connection):
    client.force_login(staff(django_user_model, "ann", connection.account))
    with mock.patch("integrations.tasks.dixa_action.apply_async") as delay:
        assert client.get(action_url(connection, "connect")).status_code == 405
        assert client.post(action_url(connection, "explode")).status_code == 403
    delay.assert_not_called()


def test_another_tenants_connection_cannot_be_acted_on(client, django_user_model, connection):
    # given a staff user of another account
    client.force_login(staff(django_user_model, "bob", AccountFactory()))
    # when / then
    with mock.patch("integrations.tasks.dixa_action.apply_async") as delay:
        assert client.post(action_url(connection, "disable")).status_code == 403
    delay.assert_not_called()
    listing = client.get(reverse("admin:integrations_dixaconnection_changelist"))
    assert str(connection.account) not in listing.content.decode()


def test_view_permission_alone_shows_no_buttons_and_acts_on_nothing(
    client, django_user_model, connection
):
    client.force_login(
        staff(django_user_model, "cid", connection.account, perms=["view_dixaconnection"])
    )
    page = client.get(reverse("admin:integrations_dixaconnection_change", args=[connection.pk]))
    assert page.status_code == 200
    assert "dixa-connect" not in page.content.decode()
    with mock.patch("integrations.tasks.dixa_action.apply_async") as delay:
        assert client.post(action_url(connection, "connect")).status_code == 403
    delay.assert_not_called()


def test_a_connection_is_never_deleted_and_logs_are_read_only(admin_client, connection):
    delete = reverse("admin:integrations_dixaconnection_delete", args=[connection.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    log = DixaDeliveryLog.objects.create(
        connection=connection,
        subscription_id="s",
        event_type="ConversationClosed",
        event_id="e1",
        delivered_at="2026-11-22T04:00:00Z",
        success=True,
        response_code=202,
        reconciliation=DixaDeliveryLog.Reconciliation.RECORDED,
        pulled_at="2026-11-22T04:05:00Z",
    )
    change = reverse("admin:integrations_dixadeliverylog_change", args=[log.pk])
    assert admin_client.post(change, {"event_id": "x"}).status_code == 403
    assert DixaConnection.objects.filter(pk=connection.pk).exists()


def test_saving_a_mapping_in_the_admin_asks_for_a_sync(admin_client, account):
    # given
    mapping = IvrMappingFactory(account=account)
    with mock.patch("ivr.admin.subscription_sync_request") as request:
        # when it is deleted
        admin_client.post(
            reverse("admin:ivr_ivrmapping_delete", args=[mapping.pk]), {"post": "yes"}
        )
    # then
    request.assert_called_once_with(account_id=account.pk)


def test_the_command_connects_with_a_token_from_the_environment(
    fake_dixa, account, monkeypatch, settings
):
    # given
    settings.PUBLIC_URL = "https://relay.example.com"
    IvrMappingFactory(account=account, queue_id=QUEUE_ID)
    monkeypatch.setenv("DIXA_TOKEN", "dixa-test-token")
    # when
    call_command("dixa_connect", "--account", account.slug, "--token-env", "DIXA_TOKEN")
    # then
    assert DixaConnection.objects.get(account=account).state == DixaConnection.State.CONNECTED
    assert len(fake_dixa.webhooks_state()["subscriptions"]) == 1
    # and a refused token is a clear error
    monkeypatch.setenv("DIXA_TOKEN", "wrong")
    with pytest.raises(CommandError, match=r"Dixa refused the API token \(401\)"):
        call_command("dixa_connect", "--account", account.slug, "--token-env", "DIXA_TOKEN")


@pytest.mark.django_db(transaction=True)
@pytest.mark.chromium
def test_the_connection_page_reads_well_at_1280(
    live_server, django_user_model, fake_dixa, settings
):
    from tests.pgap.test_browser import chromium_page

    # given an account connected to the fake Dixa, whose logs hold a failure and a success
    settings.PUBLIC_URL = "https://relay.example.com"
    account = AccountFactory(name="Acme Support")
    IvrMappingFactory(account=account, queue_id=QUEUE_ID)
    dixa_connect(account=account, api_token="dixa-test-token")
    connection = DixaConnection.objects.get(account=account)
    stored = InboundEventFactory(account=account, event_type="ConversationClosed")
    payload = json.dumps({"event_id": stored.event_id})
    fake_dixa.subscriptions[connection.subscription_id].logs["ConversationClosed"] = deque(
        [
            {
                "deliveryDetail": {
                    "deliveryTimestamp": "2026-11-22T04:00:00.000Z",
                    "success": False,
                    "responseCode": 0,
                    "responseText": "no answer: ConnectError",
                },
                "payload": payload,
            },
            {
                "deliveryDetail": {
                    "deliveryTimestamp": "2026-11-22T04:02:00.000Z",
                    "success": True,
                    "responseCode": 202,
                    "responseText": '{"status":"accepted"}',
                },
                "payload": payload,
            },
        ]
    )
    dixa_monitor.delivery_status_pull(connection=connection)
    key_prefix = connection.api_key.prefix  # read here: the browser runs an event loop
    staff(django_user_model, "ann", account)
    # when ann opens the page in Chromium
    with chromium_page(live_server) as page:
        page.goto(f"{live_server.url}/{settings.ADMIN_URL}login/")
        page.fill("#id_username", "ann")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_selector("#site-name")
        url = reverse("admin:integrations_dixaconnection_change", args=[connection.pk])
        page.goto(f"{live_server.url}{url}")
        # then the buttons, the state and Dixa's view are there, inside 1280 px
        for name in ("connect", "key_rotate", "subscription_replace", "watch", "disable"):
            assert page.is_visible(f"#dixa-{name}")
        text = page.inner_text("#content")
        assert "Connected" in text
        assert "no answer: ConnectError" in text
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1280
        if os.environ.get("DIXA_SCREENSHOT"):
            page.screenshot(path=os.environ["DIXA_SCREENSHOT"], full_page=True)
        # when she presses Check now
        with mock.patch("integrations.tasks.dixa_action.apply_async") as publish:
            page.click("#dixa-watch")
            page.wait_for_selector(".messagelist")
        # then the page says it is queued, and waits for the worker
        assert "Check now for Acme Support: queued" in page.inner_text(".messagelist")
        assert "Check now requested at" in page.inner_text("#dixa-pending")
        if os.environ.get("DIXA_SCREENSHOT"):
            page.screenshot(path=os.environ["DIXA_SCREENSHOT"].replace(".png", "-waiting.png"))
        # when the worker has run it, the page reloads itself and waits no more
        task = publish.call_args.kwargs["args"]
        worker = threading.Thread(target=in_own_connection(dixa_action.apply, task))
        worker.start()
        worker.join()
        page.wait_for_selector("#dixa-pending", state="detached", timeout=10_000)
        # when she presses Disconnect (delete in Dixa)
        with mock.patch("integrations.tasks.dixa_action.apply_async") as publish:
            page.click("#dixa-delete")
            page.wait_for_selector("#dixa-consequences")
            # then a page says what it will do, and nothing is queued yet
            consequences = page.inner_text("#dixa-consequences")
            assert f"Dixa deletes the webhook subscription {connection.subscription_id}" in (
                consequences
            )
            assert f"The relay key {key_prefix}…" in consequences
            assert "is deactivated" in consequences
            publish.assert_not_called()
            # when she takes it back, nothing is queued; when she confirms, it is
            page.click("text=No, take me back")
            page.wait_for_selector("#dixa-actions")
            publish.assert_not_called()
            page.click("#dixa-delete")
            page.click("input[value='Yes, disconnect (delete in Dixa)']")
            page.wait_for_selector(".messagelist")
        assert_queued(publish, account.pk, "delete")
        assert "Disconnect (delete in Dixa) for Acme Support: queued" in page.inner_text(
            ".messagelist"
        )
        assert page.errors == [] and page.foreign == []


def test_the_state_says_when_a_connected_subscription_is_disabled(admin_client, connected):
    connected.enabled, connected.synced_at = False, timezone.now()
    connected.save()
    listing = admin_client.get(reverse("admin:integrations_dixaconnection_changelist"))
    text = listing.content.decode()
    assert "Connected, disabled" in text
    assert 'alt="False"' in text  # enabled in Dixa: ✗, as Dixa said
    connected.enabled = True
    connected.save()
    text = admin_client.get(reverse("admin:integrations_dixaconnection_changelist")).content
    assert b"Connected, disabled" not in text and b'alt="True"' in text


def test_before_dixa_was_asked_enabled_is_unknown_not_no(admin_client, connection):
    text = admin_client.get(reverse("admin:integrations_dixaconnection_changelist")).content
    assert b'alt="None"' in text and b'alt="False"' not in text


@pytest.mark.parametrize("public_url", ["", "https://relay.example.com"])
def test_the_page_says_before_connect_when_public_url_is_missing(
    admin_client, connection, settings, public_url
):
    settings.PUBLIC_URL = public_url
    url = reverse("admin:integrations_dixaconnection_change", args=[connection.pk])
    page = admin_client.get(url).content.decode()
    assert ('id="dixa-public-url"' in page) is (not public_url)


def test_the_add_page_asks_for_the_account_and_token_only(admin_client):
    page = admin_client.get(reverse("admin:integrations_dixaconnection_add")).content.decode()
    assert 'name="api_token"' in page
    assert "delivery status, per event type" not in page

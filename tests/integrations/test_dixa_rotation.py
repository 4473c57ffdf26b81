"""Rotating the relay key and replacing the subscription (new secret) without losing a
delivery; disconnecting; Dixa's delivery status and logs reconciled with our events."""

import json
from collections import deque
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.alerts.registry import action_of
from integrations.audit.models import AuditEntry
from integrations.models import ApiKey, DixaConnection, DixaDeliveryLog, SigningSecret
from integrations.selectors.dixa import dixa_subscription_findings, dixa_subscription_problems
from integrations.services import dixa_monitor, dixa_rotate
from integrations.services.api_keys import api_key_authenticate
from integrations.services.dixa_actions import dixa_action_run
from integrations.services.dixa_connect import dixa_connect
from tests.integrations.factories import InboundEventFactory
from tests.ivr.factories import QUEUE_ID, IvrMappingFactory

pytestmark = pytest.mark.django_db
State = DixaConnection.State
Reconciliation = DixaDeliveryLog.Reconciliation


@pytest.fixture
def connected(fake_dixa, account, settings):
    settings.PUBLIC_URL = "https://relay.example.com"
    IvrMappingFactory(account=account, queue_id=QUEUE_ID)
    assert dixa_connect(account=account, api_token="dixa-test-token").ok
    return account


def subscriptions(fake_dixa) -> list[dict]:
    return fake_dixa.webhooks_state()["subscriptions"]


def key_in_dixa(subscription: dict) -> str:
    return subscription["headers"]["Authorization"].removeprefix("Bearer ")


def test_key_rotation_keeps_the_old_key_until_dixa_uses_the_new_one(fake_dixa, connected):
    # given
    old_key = DixaConnection.objects.get(account=connected).api_key
    # when
    outcome = dixa_rotate.dixa_key_rotate(account=connected)
    # then Dixa sends the new key, and the old one still works
    assert outcome.ok, outcome.message
    new_plaintext = key_in_dixa(subscriptions(fake_dixa)[0])
    new_key = ApiKey.objects.get(prefix=new_plaintext[:12])
    assert new_key != old_key
    dixa_rotate.rotations_finish()
    old_key.refresh_from_db()
    assert old_key.is_active
    # when a delivery authenticates with the new key
    assert api_key_authenticate(plaintext=new_plaintext) == new_key
    dixa_rotate.rotations_finish()
    # then the old key is revoked and the rotation is over
    old_key.refresh_from_db()
    assert not old_key.is_active
    connection = DixaConnection.objects.get(account=connected)
    assert connection.retiring_since is None
    assert "after Dixa used the new key" in connection.detail


def test_an_unused_new_key_retires_the_old_one_after_the_grace_period(
    fake_dixa, connected, settings
):
    # given
    old_key = DixaConnection.objects.get(account=connected).api_key
    dixa_rotate.dixa_key_rotate(account=connected)
    # when
    settings.DIXA_KEY_GRACE_SECONDS = 0
    dixa_rotate.rotations_finish()
    # then
    old_key.refresh_from_db()
    assert not old_key.is_active


def test_a_second_rotation_waits_for_the_first(fake_dixa, connected):
    # given
    dixa_rotate.dixa_key_rotate(account=connected)
    # when
    outcome = dixa_rotate.dixa_subscription_replace(account=connected)
    # then
    assert not outcome.ok
    assert "still under way" in outcome.message
    assert len(subscriptions(fake_dixa)) == 1


def test_replacing_the_subscription_overlaps_both_secrets_then_retires_the_old(
    fake_dixa, connected, settings
):
    # given
    old = subscriptions(fake_dixa)[0]
    # when
    outcome = dixa_rotate.dixa_subscription_replace(account=connected)
    # then both subscriptions deliver, and both secrets are accepted
    assert outcome.ok, outcome.message
    both = {s["id"]: s for s in subscriptions(fake_dixa)}
    assert len(both) == 2 and all(s["enabled"] for s in both.values())
    new = next(s for s in both.values() if s["id"] != old["id"])
    active = {s.secret for s in SigningSecret.objects.filter(account=connected, is_active=True)}
    assert active == {old["secretKey"], new["secretKey"]}
    assert DixaConnection.objects.get(account=connected).subscription_id == new["id"]
    # when the overlap ends
    settings.DIXA_SECRET_OVERLAP_SECONDS = 0
    dixa_rotate.rotations_finish()
    # then only the new subscription, its secret and its key remain
    assert [s["id"] for s in subscriptions(fake_dixa)] == [new["id"]]
    active = [s.secret for s in SigningSecret.objects.filter(account=connected, is_active=True)]
    assert active == [new["secretKey"]]
    keys = ApiKey.objects.filter(account=connected, revoked_at=None)
    assert [k.prefix for k in keys] == [key_in_dixa(new)[:12]]


def test_disconnect_disables_and_revokes_and_connect_finds_it_again(fake_dixa, connected):
    # given
    sub_id = subscriptions(fake_dixa)[0]["id"]
    # when
    outcome = dixa_action_run(account_id=connected.pk, action="disable")
    # then
    assert outcome.ok
    assert subscriptions(fake_dixa)[0]["enabled"] is False
    assert not ApiKey.objects.filter(account=connected, revoked_at=None).exists()
    assert DixaConnection.objects.get(account=connected).state == State.DISCONNECTED
    # when connected again
    assert dixa_connect(account=connected).ok
    # then the same subscription is enabled again, with a new working key
    (sub,) = subscriptions(fake_dixa)
    assert (sub["id"], sub["enabled"]) == (sub_id, True)
    assert api_key_authenticate(plaintext=key_in_dixa(sub)) is not None


def test_disconnect_can_delete_the_subscription(fake_dixa, connected):
    # when
    assert dixa_action_run(account_id=connected.pk, action="delete").ok
    # then
    assert subscriptions(fake_dixa) == []
    assert not SigningSecret.objects.filter(account=connected, is_active=True).exists()


def log_entry(event_id: str, code: int, when: str) -> dict:
    return {
        "deliveryDetail": {
            "deliveryTimestamp": when,
            "success": 200 <= code < 400,
            "responseCode": code,
            "responseText": "Service Unavailable" if code == 503 else "Accepted",
        },
        "payload": json.dumps({"event_id": event_id, "event_fqn": "CONVERSATION_CLOSED"}),
    }


def test_delivery_status_is_pulled_and_reconciled(fake_dixa, connected):
    # given Dixa logged a failure, a success we stored, and a success we have no record of
    stored = InboundEventFactory(account=connected, event_type="ConversationClosed")
    sub_id = subscriptions(fake_dixa)[0]["id"]
    fake_dixa.subscriptions[sub_id].logs["ConversationClosed"] = deque(
        [
            log_entry(stored.event_id, 503, "2026-11-22T04:00:00.000Z"),
            log_entry(stored.event_id, 202, "2026-11-22T04:01:00.000Z"),
            log_entry("never-seen", 200, "2026-11-22T04:02:00.000Z"),
            log_entry("failing-now", 503, "2026-11-22T04:03:00.000Z"),
        ]
    )
    connection = DixaConnection.objects.get(account=connected)
    # when pulled twice
    dixa_monitor.delivery_status_pull(connection=connection)
    dixa_monitor.delivery_status_pull(connection=connection)
    # then each delivery is kept once, reconciled
    logs = {
        (log.event_id, log.response_code): log.reconciliation
        for log in DixaDeliveryLog.objects.filter(connection=connection)
    }
    assert logs == {
        (stored.event_id, 503): Reconciliation.FAILED,
        (stored.event_id, 202): Reconciliation.RECORDED,
        ("never-seen", 200): Reconciliation.MISSING,
        ("failing-now", 503): Reconciliation.FAILED,
    }
    status = connection.delivery_statuses.get(event_type="ConversationClosed")
    assert (status.last_success, status.last_response_code) == (False, 503)
    assert status.last_success_at.isoformat() == "2026-11-22T04:02:00+00:00"
    assert status.last_failure_reason == "503 Service Unavailable"
    assert connection.delivery_statuses.get(event_type="ConversationAbandoned").last_success is None
    # and the console hears about both problems
    problems = dixa_subscription_problems(connected)
    assert any("last ConversationClosed delivery failed (503" in p for p in problems)
    assert any("1 deliveries Dixa reports as accepted are not recorded here" in p for p in problems)
    findings = list(dixa_subscription_findings(now=timezone.now()))
    assert [(f.account_id, f.subject) for f in findings] == [(connected.pk, "")]
    # and the incident leads to the account's connection (no internal id shown as a subject)
    page = reverse("admin:integrations_dixaconnection_change", args=[connection.pk])
    assert action_of("dixa_subscription", connected.pk, "") == ("Open the connection", page)


def test_a_healthy_subscription_raises_no_alert(fake_dixa, connected):
    # given
    stored = InboundEventFactory(account=connected, event_type="ConversationClosed")
    sub_id = subscriptions(fake_dixa)[0]["id"]
    when = (timezone.now() - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    fake_dixa.subscriptions[sub_id].logs["ConversationClosed"] = deque(
        [log_entry(stored.event_id, 202, when)]
    )
    # when
    dixa_action_run(account_id=connected.pk, action="watch")
    # then
    assert dixa_subscription_problems(connected) == []
    assert list(dixa_subscription_findings(now=timezone.now())) == []


def test_what_connect_and_a_rotation_did_to_credentials_is_in_the_audit_trail(
    fake_dixa, account, settings
):
    # given a mapped account with a Dixa token and nothing connected
    settings.PUBLIC_URL = "https://relay.example.com"
    IvrMappingFactory(account=account, queue_id=QUEUE_ID)
    DixaConnection.objects.create(account=account, api_token="dixa-test-token")
    # when Connect runs (as the admin's button has it run)
    assert dixa_action_run(account_id=account.pk, action="connect").ok
    # then the trail says which key it issued, the secret it kept, and that signatures count
    connection = DixaConnection.objects.get(account=account)
    entry = AuditEntry.objects.get(account=account, action="Dixa credentials")
    assert entry.actor_label == "Dixa: Connect / repair"
    assert f"relay key {connection.api_key.prefix}… issued" in entry.summary
    assert f"signing secret '{connection.signing_secret.label}' kept" in entry.summary
    assert "signatures required" in entry.summary
    # when the key is rotated and the rotation finishes
    old = connection.api_key
    assert dixa_action_run(account_id=account.pk, action="key_rotate").ok
    settings.DIXA_KEY_GRACE_SECONDS = 0
    dixa_rotate.rotations_finish()
    # then both steps are in the trail
    rotated, finished = AuditEntry.objects.filter(
        account=account, action="Dixa credentials"
    ).order_by("pk")[1:]
    assert rotated.actor_label == "Dixa: Rotate relay key" and "issued" in rotated.summary
    assert finished.summary == f"relay key {old.prefix}… revoked"

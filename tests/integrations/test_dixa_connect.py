"""Connect Dixa against the fake Dixa's /beta/webhooks (a real HTTP server): create, find
again, refusals, Dixa busy, a create whose answer was lost, sync, drift and repair."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from integrations.clients import dixa
from integrations.clients.http import ApiUnavailable
from integrations.models import ApiKey, DixaConnection, SigningSecret
from integrations.selectors.dixa import dixa_subscription_problems
from integrations.services import dixa_sync
from integrations.services.api_keys import api_key_authenticate
from integrations.services.dixa_connect import dixa_connect
from integrations.services.dixa_webhooks import relay_url
from tests.fakes.base import Behaviour
from tests.ivr.factories import QUEUE_ID, IvrMappingFactory
from tests.pgap.factories import PgapSetupFactory
from tests.support.processes import wait_until

pytestmark = pytest.mark.django_db
State = DixaConnection.State
OTHER_QUEUE = "50a5427e-cfc3-4396-8f4f-a5bce5037d1b"


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.PUBLIC_URL = "https://relay.example.com"
    settings.DIXA_SYNC_DEBOUNCE_SECONDS = 0


@pytest.fixture
def mapped(account):
    IvrMappingFactory(account=account, queue_id=QUEUE_ID)
    return account


def only_subscription(fake_dixa) -> dict:
    subscriptions = fake_dixa.webhooks_state()["subscriptions"]
    assert len(subscriptions) == 1
    return subscriptions[0]


def test_connect_creates_the_subscription_dixa_needs(fake_dixa, mapped):
    # when
    outcome = dixa_connect(account=mapped, api_token="dixa-test-token")
    # then Dixa holds one subscription to our relay, filtered to the mapped queue
    assert outcome.ok, outcome.message
    sub = only_subscription(fake_dixa)
    assert sub["url"] == "https://relay.example.com/api/dixa/relay" == relay_url()
    assert sub["subscribedEvents"] == ["ConversationAbandoned", "ConversationClosed"]
    assert sub["enabled"] is True
    condition = sub["filters"]["Conversation"]["conditions"][0]
    assert condition == {"field": "QueueId", "values": [QUEUE_ID], "_type": "IsOneOf"}
    # and its Token authorization is a working relay key of the account
    token = sub["headers"]["Authorization"].removeprefix("Bearer ")
    assert api_key_authenticate(plaintext=token).account == mapped
    # and Dixa's secret is the account's signing secret, now required
    mapped.refresh_from_db()
    assert mapped.require_signature
    assert [s.secret for s in mapped.signing_secrets.filter(is_active=True)] == [sub["secretKey"]]
    connection = DixaConnection.objects.get(account=mapped)
    assert (connection.state, connection.subscription_id) == (State.CONNECTED, sub["id"])
    # and the create carried every field Dixa requires
    create = fake_dixa.recorded("/beta/webhooks")[-1]
    assert create.method == "POST"
    assert {"name", "url", "authorization", "customHeaders"} <= set(create.json())


def test_p_gap_on_adds_attribute_updates(fake_dixa, mapped):
    # given
    PgapSetupFactory(account=mapped, enabled=True)
    # when
    dixa_connect(account=mapped, api_token="dixa-test-token")
    # then
    assert "ConversationCustomAttributeUpdated" in only_subscription(fake_dixa)["subscribedEvents"]


def test_a_second_connect_updates_ours_and_keeps_its_key(fake_dixa, mapped):
    # given
    dixa_connect(account=mapped, api_token="dixa-test-token")
    first = only_subscription(fake_dixa)
    # when
    outcome = dixa_connect(account=mapped)
    # then
    assert outcome.ok
    second = only_subscription(fake_dixa)
    assert second["id"] == first["id"]
    assert second["headers"] == first["headers"]
    assert ApiKey.objects.filter(account=mapped, revoked_at=None).count() == 1
    assert fake_dixa.recorded("/beta/webhooks")[-1].method == "PATCH"


def test_a_create_whose_answer_was_lost_is_found_by_url(fake_dixa, mapped, monkeypatch):
    # given Dixa makes the subscription but answers after our timeout
    monkeypatch.setattr(dixa, "TIMEOUT", 0.3)
    fake_dixa.push(Behaviour(), Behaviour(hang=0.8))  # the list at once; the create late
    with pytest.raises(ApiUnavailable):
        dixa_connect(account=mapped, api_token="dixa-test-token")
    connection = DixaConnection.objects.get(account=mapped)
    assert "retrying" in connection.detail
    wait_until(lambda: fake_dixa.webhooks_state()["subscriptions"], 5, "Dixa's create")
    # when the task tries again
    outcome = dixa_connect(account=mapped)
    # then it adopts the one Dixa made, with a fresh key, and makes no second one
    assert outcome.ok, outcome.message
    sub = only_subscription(fake_dixa)
    token = sub["headers"]["Authorization"].removeprefix("Bearer ")
    assert api_key_authenticate(plaintext=token) is not None
    assert ApiKey.objects.filter(account=mapped, revoked_at=None).count() == 1


def test_a_refused_token_says_so_and_leaves_nothing_half_made(fake_dixa, mapped):
    # when
    outcome = dixa_connect(account=mapped, api_token="wrong-token")
    # then
    assert not outcome.ok
    assert "Dixa refused the API token (401)" in outcome.message
    connection = DixaConnection.objects.get(account=mapped)
    assert (connection.state, connection.detail) == (State.FAILED, outcome.message)
    assert fake_dixa.webhooks_state()["subscriptions"] == []
    assert not ApiKey.objects.filter(account=mapped, revoked_at=None).exists()
    assert not SigningSecret.objects.filter(account=mapped).exists()


def test_429_and_503_are_retried_with_backoff(fake_dixa, mapped, monkeypatch):
    # given Dixa is busy twice, then answers
    monkeypatch.setattr(dixa, "WEBHOOK_BACKOFF", 0.01)
    fake_dixa.push(Behaviour(status=429, retry_after="0"), Behaviour(status=503))
    # when
    outcome = dixa_connect(account=mapped, api_token="dixa-test-token")
    # then
    assert outcome.ok
    assert [r.status for r in fake_dixa.recorded("/beta/webhooks")][:3] == [429, 503, 200]


def test_dixa_busy_throughout_raises_for_a_retry_and_creates_nothing(
    fake_dixa, mapped, monkeypatch
):
    # given
    monkeypatch.setattr(dixa, "WEBHOOK_BACKOFF", 0.01)
    fake_dixa.push(*[Behaviour(status=503)] * 3)
    # when / then
    with pytest.raises(dixa.DixaError):
        dixa_connect(account=mapped, api_token="dixa-test-token")
    assert not ApiKey.objects.filter(account=mapped, revoked_at=None).exists()
    assert DixaConnection.objects.get(account=mapped).state == State.NOT_CONNECTED


def test_without_a_mapped_queue_the_subscription_waits_disabled(fake_dixa, account):
    # when
    dixa_connect(account=account, api_token="dixa-test-token")
    # then
    sub = only_subscription(fake_dixa)
    assert sub["enabled"] is False
    assert sub["filters"] == {}


def test_mapping_changes_patch_the_queue_filter_once_debounced(fake_dixa, mapped, settings):
    # given
    dixa_connect(account=mapped, api_token="dixa-test-token")
    settings.DIXA_SYNC_DEBOUNCE_SECONDS = 30
    # when two mappings change in a burst
    other = IvrMappingFactory(account=mapped, queue_id=OTHER_QUEUE)
    assert dixa_sync.subscription_sync_request(account_id=mapped.pk)
    assert dixa_sync.subscription_sync_request(account_id=mapped.pk)
    # then nothing is sent before the debounce ends
    assert not dixa_sync.subscription_sync(account_id=mapped.pk)
    # when it ends
    DixaConnection.objects.filter(account=mapped).update(sync_due_at=timezone.now())
    assert dixa_sync.subscription_sync(account_id=mapped.pk)
    # then one PATCH carries both queues
    patches = [r for r in fake_dixa.recorded("/beta/webhooks/") if r.method == "PATCH"]
    assert len(patches) == 1
    condition = only_subscription(fake_dixa)["filters"]["Conversation"]["conditions"][0]
    assert condition["values"] == sorted([QUEUE_ID, OTHER_QUEUE])
    # and disabling one mapping removes its queue
    other.enabled = False
    other.save()
    dixa_sync.subscription_sync_request(account_id=mapped.pk)
    DixaConnection.objects.filter(account=mapped).update(sync_due_at=timezone.now())
    dixa_sync.subscription_sync(account_id=mapped.pk)
    condition = only_subscription(fake_dixa)["filters"]["Conversation"]["conditions"][0]
    assert condition["values"] == [QUEUE_ID]


def test_a_busy_dixa_leaves_the_sync_due_later(fake_dixa, mapped, monkeypatch, settings):
    # given
    dixa_connect(account=mapped, api_token="dixa-test-token")
    monkeypatch.setattr(dixa, "WEBHOOK_BACKOFF", 0.01)
    IvrMappingFactory(account=mapped, queue_id=OTHER_QUEUE)
    dixa_sync.subscription_sync_request(account_id=mapped.pk)
    fake_dixa.push(*[Behaviour(status=503)] * 3)
    DixaConnection.objects.filter(account=mapped).update(sync_due_at=timezone.now())
    # when (the clock stopped while Dixa is asked)
    frozen = timezone.now()
    with time_machine.travel(frozen, tick=False), pytest.raises(ApiUnavailable):
        dixa_sync.subscription_sync(account_id=mapped.pk)
    # then it is due again DIXA_SYNC_RETRY_SECONDS from then
    due = DixaConnection.objects.get(account=mapped).sync_due_at
    assert due == frozen + timedelta(seconds=settings.DIXA_SYNC_RETRY_SECONDS)


def test_a_deleted_subscription_is_detected_and_repaired(fake_dixa, mapped):
    # given
    dixa_connect(account=mapped, api_token="dixa-test-token")
    fake_dixa.delete_subscription(only_subscription(fake_dixa)["id"])
    connection = DixaConnection.objects.get(account=mapped)
    # when
    state = dixa_sync.subscription_check(connection=connection)
    # then
    assert state == State.MISSING
    assert "no longer exists" in DixaConnection.objects.get(account=mapped).detail
    # when repaired
    assert dixa_connect(account=mapped).ok
    # then a new one exists, with a working key and its secret required
    sub = only_subscription(fake_dixa)
    token = sub["headers"]["Authorization"].removeprefix("Bearer ")
    assert api_key_authenticate(plaintext=token) is not None
    active = [s.secret for s in SigningSecret.objects.filter(account=mapped, is_active=True)]
    assert active == [sub["secretKey"]]


def test_a_hand_edit_is_shown_as_drift_and_repair_puts_ours_back(fake_dixa, mapped):
    # given
    dixa_connect(account=mapped, api_token="dixa-test-token")
    sub_id = only_subscription(fake_dixa)["id"]
    fake_dixa.edit_subscription(sub_id, events=["ConversationCreated"], filters={})
    connection = DixaConnection.objects.get(account=mapped)
    # when
    state = dixa_sync.subscription_check(connection=connection)
    # then
    assert state == State.DRIFTED
    detail = DixaConnection.objects.get(account=mapped).detail
    assert "events are ConversationCreated" in detail and "queue filter is absent" in detail
    # when
    dixa_connect(account=mapped)
    # then
    sub = only_subscription(fake_dixa)
    assert sub["subscribedEvents"] == ["ConversationAbandoned", "ConversationClosed"]
    connection = DixaConnection.objects.get(account=mapped)
    assert dixa_sync.subscription_check(connection=connection) == State.CONNECTED


def test_a_subscription_dixa_disabled_is_shown(fake_dixa, mapped):
    # given
    dixa_connect(account=mapped, api_token="dixa-test-token")
    fake_dixa.edit_subscription(only_subscription(fake_dixa)["id"], enabled=False)
    # when
    state = dixa_sync.subscription_check(connection=DixaConnection.objects.get(account=mapped))
    # then
    assert state == State.DISABLED


def test_without_a_public_url_connect_says_so_and_blames_nobody_else(fake_dixa, mapped, settings):
    # given
    settings.PUBLIC_URL = ""
    # when
    outcome = dixa_connect(account=mapped, api_token="dixa-test-token")
    # then Dixa was not asked, the connection is still simply not connected, and no alert
    assert not outcome.ok and "PUBLIC_URL is not set" in outcome.message
    assert fake_dixa.webhooks_state()["subscriptions"] == []
    connection = DixaConnection.objects.get(account=mapped)
    assert connection.state == State.NOT_CONNECTED
    assert connection.detail.startswith("Not asked: PUBLIC_URL is not set")
    assert dixa_subscription_problems(mapped) == []


@pytest.mark.parametrize(
    ("public_url", "starts"),
    [("https://relay.example.com", True), ("http://relay.example.com", False), (None, True)],
)
def test_production_takes_only_an_https_public_url(public_url, starts):
    from tests.test_production_settings import load_production

    # when
    result = load_production(
        "from django.conf import settings; print(repr(settings.PUBLIC_URL))",
        PUBLIC_URL=public_url,
    )
    # then
    assert (result.returncode == 0) is starts, result.stderr[-500:]
    if not starts:
        assert "PUBLIC_URL must be an https URL" in result.stderr


def test_the_task_retries_while_dixa_is_busy_then_connects(fake_dixa, mapped, monkeypatch):
    from integrations.tasks import dixa_action

    # given Dixa answers 503 to every try of the first run
    monkeypatch.setattr(dixa, "WEBHOOK_BACKOFF", 0.01)
    DixaConnection.objects.create(account=mapped, api_token="dixa-test-token")
    fake_dixa.push(*[Behaviour(status=503)] * 3)
    # when the task runs (eagerly: Celery runs its retry at once)
    result = dixa_action.apply(args=[mapped.pk, "connect"])
    # then the busy answers were retried by the task, which then connected
    assert result.state == "SUCCESS"
    statuses = [r.status for r in fake_dixa.recorded("/beta/webhooks")]
    assert statuses[:3] == [503, 503, 503] and set(statuses[3:]) <= {200, 201}
    assert DixaConnection.objects.get(account=mapped).state == State.CONNECTED
    assert len(fake_dixa.webhooks_state()["subscriptions"]) == 1


def test_without_a_public_url_a_connected_subscription_keeps_what_dixa_said(
    fake_dixa, mapped, settings
):
    # given a subscription Dixa disabled, its detail saying so (and its alert quoting it)
    dixa_connect(account=mapped, api_token="dixa-test-token")
    DixaConnection.objects.filter(account=mapped).update(
        state=State.DISABLED, detail="Dixa disabled the subscription after failures."
    )
    settings.PUBLIC_URL = ""
    # when Connect is pressed without PUBLIC_URL
    outcome = dixa_connect(account=mapped)
    # then Dixa is not asked, and the state and Dixa's own words stay
    assert not outcome.ok and outcome.message.startswith("Not asked: PUBLIC_URL is not set")
    connection = DixaConnection.objects.get(account=mapped)
    assert (connection.state, connection.detail) == (
        State.DISABLED,
        "Dixa disabled the subscription after failures.",
    )

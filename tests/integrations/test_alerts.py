"""Alerts: conditions registered by any app become incidents, each announced once by email
and to the account's webhook (a real local HTTP server), and once more when resolved."""

from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from integrations.alerts import Finding, register
from integrations.alerts import registry as alert_registry
from integrations.alerts.models import AlertIncident, AlertSettings
from integrations.alerts.notify import alert_incident_notify
from integrations.alerts.services import alerts_evaluate
from integrations.models import Account, DixaConnection, InboundEvent, RejectedDelivery
from ivr.models import DeliveryAttempt, SurveyTrigger
from tests.fakes.chat_webhook import FakeChatWebhook
from tests.integrations.factories import AccountFactory, InboundEventFactory
from tests.ivr.factories import (
    DeliveryAttemptFactory,
    NpsTodayDeliveryFactory,
    SurveyTriggerFactory,
)
from tests.support.processes import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat_webhook():
    fake = FakeChatWebhook().start()
    yield fake
    fake.stop()


@pytest.fixture
def notices_run_now(django_capture_on_commit_callbacks):
    """Notification tasks run in-process when the evaluation commits."""
    with mock.patch(
        "integrations.tasks.notify_alert_incident.delay",
        side_effect=lambda pk: alert_incident_notify(incident_pk=pk),
    ):
        yield


@pytest.fixture
def switchable():
    """A registered condition whose findings the test sets."""
    findings: list[Finding] = []
    register("test_switch", "Test switch", lambda *, now: list(findings))
    yield findings
    alert_registry._conditions.pop("test_switch", None)


def evaluate(capture, **kwargs):
    with capture(execute=True):
        return alerts_evaluate(**kwargs)


def test_a_condition_fires_once_per_incident_and_says_when_it_is_resolved(
    switchable, chat_webhook, notices_run_now, django_capture_on_commit_callbacks
):
    # given an account with both channels, and a condition that holds
    account = AccountFactory(name="Acme")
    AlertSettings.objects.create(
        account=account,
        email_recipients="ops@acme.example\n oncall@acme.example ",
        webhook_url=f"{chat_webhook.url}/hooks/T000/B000/XXX",
    )
    switchable.append(Finding(account_id=account.pk, detail="the switch is on"))
    # when it is evaluated three times while the condition holds
    for _ in range(3):
        evaluate(django_capture_on_commit_callbacks)
    # then there is one incident and one notice on each channel
    incident = AlertIncident.objects.get(condition="test_switch")
    assert incident.is_open and incident.notified_at is not None
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ops@acme.example", "oncall@acme.example"]
    assert "Test switch" in mail.outbox[0].subject and "Acme" in mail.outbox[0].subject
    assert [m["alert"]["state"] for m in chat_webhook.messages()] == ["firing"]
    assert "the switch is on" in chat_webhook.messages()[0]["text"]
    # when the condition no longer holds
    switchable.clear()
    evaluate(django_capture_on_commit_callbacks)
    evaluate(django_capture_on_commit_callbacks)
    # then the incident is resolved and that is said once
    incident.refresh_from_db()
    assert incident.resolved_at is not None and incident.resolved_notified_at is not None
    assert len(mail.outbox) == 2 and mail.outbox[1].subject.startswith("[relay] Resolved:")
    assert [m["alert"]["state"] for m in chat_webhook.messages()] == ["firing", "resolved"]
    # and when it holds again, that is a new incident
    switchable.append(Finding(account_id=account.pk, detail="on again"))
    evaluate(django_capture_on_commit_callbacks)
    assert AlertIncident.objects.filter(condition="test_switch").count() == 2
    assert len(mail.outbox) == 3


def test_a_webhook_that_refuses_is_recorded_on_the_incident(
    switchable, chat_webhook, notices_run_now, django_capture_on_commit_callbacks
):
    account = AccountFactory()
    AlertSettings.objects.create(account=account, webhook_url=f"{chat_webhook.url}/nowhere")
    switchable.append(Finding(account_id=account.pk, detail="x"))
    evaluate(django_capture_on_commit_callbacks)
    incident = AlertIncident.objects.get(condition="test_switch")
    assert incident.notify_error == "webhook: answered 404"


def test_a_webhook_address_httpx_cannot_use_is_recorded_without_its_password(
    switchable, notices_run_now, django_capture_on_commit_callbacks
):
    # given a webhook address the form takes but httpx does not (the "#" ends the host part
    # early, so "pa55" reads as a port), a password in it
    account = AccountFactory()
    AlertSettings.objects.create(
        account=account, webhook_url="https://relay:pa55#w@hooks.example/services/x"
    )
    switchable.append(Finding(account_id=account.pk, detail="x"))
    # when the incident is announced, the notice fails, said in words, and nothing crashes
    evaluate(django_capture_on_commit_callbacks)
    incident = AlertIncident.objects.get(condition="test_switch")
    assert incident.notify_error == "webhook did not answer: the address is not a valid URL"


def test_a_webhook_that_does_not_answer_is_recorded_with_its_host_and_why(
    switchable, notices_run_now, django_capture_on_commit_callbacks
):
    # given a webhook on a port nobody listens on, its secret in the path
    port = free_port()
    account = AccountFactory()
    AlertSettings.objects.create(
        account=account, webhook_url=f"http://127.0.0.1:{port}/services/T0/s3cret"
    )
    switchable.append(Finding(account_id=account.pk, detail="x"))
    # when the incident is announced
    evaluate(django_capture_on_commit_callbacks)
    # then the incident says which host refused, without the path
    incident = AlertIncident.objects.get(condition="test_switch")
    assert incident.notify_error == (
        f"webhook (http://127.0.0.1:{port}) did not answer: the connection was refused"
    )


def test_a_condition_that_raises_leaves_its_incidents_open(
    switchable, django_capture_on_commit_callbacks
):
    # given an open incident
    account = AccountFactory()
    switchable.append(Finding(account_id=account.pk, detail="x"))
    evaluate(django_capture_on_commit_callbacks)

    # when its condition cannot be evaluated
    def broken(*, now):
        raise RuntimeError("database hiccup")

    register("test_switch", "Test switch", broken)
    evaluation = evaluate(django_capture_on_commit_callbacks)
    # then nothing is resolved: a broken check is not a recovery
    assert evaluation.failed_conditions == ["test_switch"]
    assert AlertIncident.objects.get(condition="test_switch").is_open


def test_an_incident_resolved_before_its_notice_went_out_sends_nothing(switchable):
    account = AccountFactory()
    AlertSettings.objects.create(account=account, email_recipients="ops@example.com")
    now = timezone.now()
    incident = AlertIncident.objects.create(
        account=account,
        condition="test_switch",
        detail="x",
        opened_at=now,
        last_seen_at=now,
        resolved_at=now,
    )
    assert alert_incident_notify(incident_pk=incident.pk) == "resolved before notice"
    assert alert_incident_notify(incident_pk=incident.pk) == "nothing due"
    assert mail.outbox == []


def open_conditions(now=None) -> set[tuple[str, int]]:
    alerts_evaluate(now=now)
    return set(
        AlertIncident.objects.filter(resolved_at=None).values_list("condition", "account_id")
    )


def test_a_disabled_npstoday_key_is_an_incident(settings):
    delivery = NpsTodayDeliveryFactory()
    assert ("npstoday_key_disabled", delivery.account_id) not in open_conditions()
    delivery.disabled_at = timezone.now()
    delivery.disabled_reason = "401 five times in a row"
    delivery.save()
    assert ("npstoday_key_disabled", delivery.account_id) in open_conditions()
    incident = AlertIncident.objects.get(condition="npstoday_key_disabled")
    assert "401 five times in a row" in incident.detail


def test_dead_letters_over_the_accounts_threshold_in_an_hour_are_an_incident():
    # given an account that alerts at 3 dead letters an hour
    first = SurveyTriggerFactory(status=SurveyTrigger.Status.FAILED, finished_at=timezone.now())
    account = first.account
    AlertSettings.objects.create(account=account, dead_letters_per_hour=3)
    SurveyTriggerFactory(
        mapping=first.mapping, status=SurveyTrigger.Status.FAILED, finished_at=timezone.now()
    )
    # an old one does not count
    SurveyTriggerFactory(
        mapping=first.mapping,
        status=SurveyTrigger.Status.FAILED,
        finished_at=timezone.now() - timedelta(hours=2),
    )
    assert ("dead_letters", account.pk) not in open_conditions()
    SurveyTriggerFactory(
        mapping=first.mapping, status=SurveyTrigger.Status.FAILED, finished_at=timezone.now()
    )
    assert ("dead_letters", account.pk) in open_conditions()


def test_a_failure_rate_over_five_percent_in_an_hour_is_an_incident():
    trigger = SurveyTriggerFactory()
    for number in range(1, 20):
        DeliveryAttemptFactory(trigger=trigger, number=number, outcome="success")
    DeliveryAttemptFactory(trigger=trigger, number=20, outcome=DeliveryAttempt.Outcome.RETRY)
    # 1 of 20 is 5 %: not over it
    assert ("failure_rate", trigger.account_id) not in open_conditions()
    DeliveryAttemptFactory(trigger=trigger, number=21, outcome=DeliveryAttempt.Outcome.FAILED)
    # 2 of 21 is 9.5 %
    assert ("failure_rate", trigger.account_id) in open_conditions()


def test_tries_older_than_an_hour_do_not_count_in_the_failure_rate():
    # given 20 failed tries two hours ago, and 20 good ones since
    trigger = SurveyTriggerFactory()
    for number in range(1, 21):
        DeliveryAttemptFactory(trigger=trigger, number=number, outcome="failed")
    DeliveryAttempt.objects.update(created_at=timezone.now() - timedelta(hours=2))
    for number in range(21, 41):
        DeliveryAttemptFactory(trigger=trigger, number=number, outcome="success")
    # then the last hour's rate is 0 %
    assert ("failure_rate", trigger.account_id) not in open_conditions()
    # and a failure now is 1 of 21: still under the 5 % the account allows
    DeliveryAttemptFactory(trigger=trigger, number=41, outcome="failed")
    assert ("failure_rate", trigger.account_id) not in open_conditions()


def test_a_burst_of_signature_failures_is_an_incident():
    account = AccountFactory()
    AlertSettings.objects.create(account=account, signature_failures_per_hour=5)
    for _ in range(5):
        RejectedDelivery.objects.create(
            account=account, status_code=401, reason="bad signature", raw_body=b"", body_size=0
        )
    RejectedDelivery.objects.create(
        account=account, status_code=400, reason="not JSON", raw_body=b"", body_size=0
    )
    assert ("signature_failures", account.pk) in open_conditions()


def test_a_webhook_silent_for_hours_after_traffic_is_an_incident():
    # given an account whose last delivery came 7 hours ago (it alerts after 6)
    account = AccountFactory()
    event = InboundEventFactory(account=account)
    InboundEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - timedelta(hours=7))
    quiet = AccountFactory()  # never had traffic: nothing to miss
    opened = open_conditions()
    assert ("silent_webhook", account.pk) in opened
    assert ("silent_webhook", quiet.pk) not in opened
    # when a delivery arrives, the incident is resolved
    InboundEventFactory(account=account)
    assert ("silent_webhook", account.pk) not in open_conditions()
    assert AlertIncident.objects.get(condition="silent_webhook").resolved_at is not None


def test_an_account_admin_sends_a_test_alert_to_both_channels(admin_client, chat_webhook):
    from django.urls import reverse

    from integrations.audit.models import AuditEntry

    account = AccountFactory(name="Acme")
    channel = AlertSettings.objects.create(
        account=account,
        email_recipients="ops@acme.example",
        webhook_url=f"{chat_webhook.url}/hooks/T1",
    )
    response = admin_client.post(
        reverse("admin:integrations_alertsettings_changelist"),
        {"action": "send_test", "_selected_action": [channel.pk]},
    )
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and "Test alert" in mail.outbox[0].subject
    assert "a test notice" in chat_webhook.messages()[0]["text"]
    assert AuditEntry.objects.get().result == "sent"


def alert_settings_form(account, **fields) -> dict:
    """The admin's alert settings form for `account`, default thresholds, these fields."""
    return {
        "account": account.pk,
        "email_recipients": "",
        "dead_letters_per_hour": 10,
        "failure_rate_percent": 5,
        "signature_failures_per_hour": 20,
        "silent_hours": 6,
        **fields,
    }


@given(recipients=st.text(max_size=200), url=st.text(max_size=120))
@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_alert_settings_input_is_saved_or_refused_never_an_error(admin_client, recipients, url):
    from django.urls import reverse

    account, _ = Account.objects.get_or_create(name="Fuzz")
    AlertSettings.objects.filter(account=account).delete()
    response = admin_client.post(
        reverse("admin:integrations_alertsettings_add"),
        alert_settings_form(account, email_recipients=recipients, webhook_url=url),
    )
    assert response.status_code in (200, 302)
    saved = AlertSettings.objects.filter(account=account).first()
    if saved is not None:  # what was kept is addresses, one a line
        for address in saved.recipients:
            assert "@" in address and address == address.strip()


def test_a_recipient_that_is_not_an_address_is_refused(admin_client):
    from django.urls import reverse

    account = AccountFactory()
    response = admin_client.post(
        reverse("admin:integrations_alertsettings_add"),
        alert_settings_form(account, email_recipients="ops@example.com\nnot an address"),
    )
    assert response.status_code == 200
    assert "not an email address: not an address" in response.content.decode()
    assert not AlertSettings.objects.exists()


def test_every_condition_links_its_banner_to_a_page_where_it_is_dealt_with(admin_client):
    account = AccountFactory()
    NpsTodayDeliveryFactory(account=account)
    connection = DixaConnection.objects.create(account=account, api_token="dixa-test-token")
    for condition in alert_registry.conditions():
        assert condition.action is not None, f"{condition.key} names no page"
        text, url = condition.action(account.pk, str(connection.pk))
        assert text and admin_client.get(url).status_code == 200, (condition.key, url)

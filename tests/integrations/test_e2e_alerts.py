"""Alerts end to end: the real Celery workers of `make run` (events and HTTP) on PostgreSQL
and Redis evaluate the conditions and post the notice to a webhook (a real HTTP server in
this process): once while the incident lasts, and once when it is resolved."""

import subprocess
import sys

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from integrations.alerts.models import AlertIncident, AlertSettings
from ivr.models import NpsTodayDelivery
from tests.fakes.chat_webhook import FakeChatWebhook
from tests.integrations.factories import AccountFactory
from tests.support.processes import ROOT, Stack, live_database_url, process_env, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def stack_env(transactional_db, tmp_path):
    redis.Redis.from_url(settings.TEST_REDIS_URL).flushdb()
    env = process_env(tmp_path, DATABASE_URL=live_database_url(), REDIS_URL=settings.TEST_REDIS_URL)
    stack = Stack(tmp_path)
    try:
        stack.workers(env)
        yield env
    finally:
        stack.stop_all()


@pytest.fixture
def chat_webhook():
    fake = FakeChatWebhook().start()
    yield fake
    fake.stop()


def evaluate_through_the_broker(env) -> None:
    """What beat does every minute: queue the evaluation (here, at once)."""
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from integrations.tasks import evaluate_alerts; evaluate_alerts.delay()",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )


def test_the_workers_announce_an_incident_once_and_its_resolution(stack_env, chat_webhook):
    # given an account whose nps.today key was auto-disabled, with a webhook for alerts
    account = AccountFactory(name="Acme")
    AlertSettings.objects.create(account=account, webhook_url=f"{chat_webhook.url}/hooks/T1")
    NpsTodayDelivery.objects.create(
        account=account, disabled_at=timezone.now(), disabled_reason="401 five times"
    )
    # when the workers evaluate twice
    evaluate_through_the_broker(stack_env)
    wait_until(lambda: len(chat_webhook.messages()) == 1, 60, "the firing notice")
    evaluate_through_the_broker(stack_env)
    wait_until(
        lambda: AlertIncident.objects.filter(
            last_seen_at__gt=AlertIncident.objects.get().opened_at
        ).exists(),
        60,
        "the second evaluation",
    )
    # then the notice went once
    assert [m["alert"]["state"] for m in chat_webhook.messages()] == ["firing"]
    assert "401 five times" in chat_webhook.messages()[0]["text"]
    # when the key is re-enabled and the workers evaluate again
    NpsTodayDelivery.objects.filter(pk=account.pk).update(disabled_at=None)
    evaluate_through_the_broker(stack_env)
    wait_until(lambda: len(chat_webhook.messages()) == 2, 60, "the resolved notice")
    # then it says so, and the incident is closed
    assert chat_webhook.messages()[1]["alert"]["state"] == "resolved"
    assert AlertIncident.objects.get().resolved_notified_at is not None

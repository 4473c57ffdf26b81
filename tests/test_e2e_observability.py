"""Observability end to end, with real processes: the web's /metrics sums what gunicorn's
workers and the Celery workers counted, and the JSON logs of every process tell the story by
ids without a key, a secret, a signature or the customer's personal data."""

import json

import httpx
import pytest
import redis
from django.conf import settings

from integrations.dixa import simulator
from integrations.services.api_keys import api_key_create
from ivr.models import SurveyTrigger
from tests.fakes.npstoday import FakeNpsToday
from tests.integrations.factories import AccountFactory, SigningSecretFactory
from tests.ivr.factories import IvrMappingFactory, NpsTodayDeliveryFactory
from tests.ivr.helpers import REALISTIC_CONVERSATION, closed_body
from tests.support.processes import Stack, live_database_url, process_env, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]
SECRET = "0b5e77ab1e" * 6 + "ab12"
NPS_KEY = "nps-observability-key-3141"
METRICS_TOKEN = "scrape-token-2718"
CUSTOMER = {
    **REALISTIC_CONVERSATION["requester"],
    "name": "Quintessa Vandersloot",
    "email": "quintessa.vandersloot@example.com",
    "phone": "+4599887766",
}


def sample(text: str, name: str, **labels) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    prefix = f"{name}{{{wanted}}} " if labels else f"{name} "
    lines = [line for line in text.splitlines() if line.startswith(prefix)]
    return float(lines[0].rsplit(" ", 1)[1]) if lines else 0.0


def test_metrics_from_every_process_and_logs_without_secrets(transactional_db, tmp_path):
    fake = FakeNpsToday(api_keys=[NPS_KEY]).start()
    account = AccountFactory(npstoday_api_key=NPS_KEY, require_signature=True)
    NpsTodayDeliveryFactory(account=account)
    SigningSecretFactory(account=account, secret=SECRET)
    IvrMappingFactory(account=account)
    key = api_key_create(account=account, name="dixa").plaintext
    redis.Redis.from_url(settings.TEST_REDIS_URL).flushdb()
    env = process_env(
        tmp_path,
        DATABASE_URL=live_database_url(),
        REDIS_URL=settings.TEST_REDIS_URL,
        NPSTODAY_API_URL=fake.url,
        LOG_FORMAT="json",
        METRICS_TOKEN=METRICS_TOKEN,
        AUTH_CACHE_SECONDS="0",
    )
    stack = Stack(tmp_path)
    try:
        base = stack.gunicorn(env, workers=2)
        stack.workers(env)
        stack.dispatcher(env)
        signatures = []
        for n in range(5):
            body = closed_body(csid=81_000 + n, requester=CUSTOMER)
            delivery = simulator.build_delivery(body, key=key, secret=SECRET)
            signatures.append(delivery.headers["X-DIXA-SIGNATURE"])
            answer = httpx.post(
                f"{base}/api/dixa/relay", content=delivery.body, headers=delivery.headers
            )
            assert answer.status_code == 202 and answer.headers["X-Request-ID"]
        forged = simulator.build_delivery(
            closed_body(csid=81_999, requester=CUSTOMER), key=key, secret=SECRET, bad_signature=True
        )
        signatures.append(forged.headers["X-DIXA-SIGNATURE"])
        assert (
            httpx.post(
                f"{base}/api/dixa/relay", content=forged.body, headers=forged.headers
            ).status_code
            == 401
        )
        wait_until(
            lambda: SurveyTrigger.objects.filter(account=account, status="delivered").count() == 5,
            60,
            "five surveys delivered",
        )

        # /metrics wants the token, then sums every process's counters
        assert httpx.get(f"{base}/metrics").status_code == 403
        text = httpx.get(
            f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        ).text
    finally:
        stack.stop_all()
        fake.stop()

    received = "relay_deliveries_received_total"
    assert sample(text, received, outcome="accepted", status_code="202") == 5
    assert sample(text, received, outcome="invalid_signature", status_code="401") == 1
    assert sample(text, "relay_signature_failures_total", account=account.slug) == 1
    assert sample(text, "relay_events_processed_total", outcome="handled") == 5  # workers
    assert sample(text, "relay_survey_tries_total", result="delivered") == 5
    assert sample(text, "relay_npstoday_request_seconds_count", operation="add_member") == 5
    assert sample(text, "relay_outbox_due", outbox="surveys") == 0
    assert 'relay_celery_queue_length{queue="events"}' in text

    # every line every process wrote is JSON, and none holds anything it must not
    forbidden = [key, SECRET, NPS_KEY, METRICS_TOKEN, *signatures]
    forbidden += [CUSTOMER["name"], CUSTOMER["email"], CUSTOMER["phone"], CUSTOMER["id"]]
    forbidden += [REALISTIC_CONVERSATION["assignee"]["email"]]  # the agent's too
    records = []
    for log in tmp_path.glob("*.log"):
        for line in log.read_text().splitlines():
            if not line or line.startswith("worker: "):
                continue  # Celery prints its shutdown notice (after a blank line), not logs it

            assert not [secret for secret in forbidden if secret in line], (log.name, line)
            records.append(json.loads(line))
    delivered = [r for r in records if r["event"].startswith("survey delivered")]
    assert len(delivered) == 5
    assert all(r["survey_id"] and r["account"] == account.pk for r in delivered)
    handled = [r for r in records if "event_id" in r and r.get("logger", "").startswith("ivr")]
    assert handled, "the survey decisions name their event"
    access = [r for r in records if r.get("logger") == "relay.access"]
    assert not [r for r in records if r.get("logger") == "gunicorn.access"]  # ours only
    relayed = {r["request_id"] for r in access if "POST /api/dixa/relay 202" in r["event"]}
    assert len(relayed) == 5
    # the request id travels with the event into the work it causes
    created = [r for r in records if r["event"].startswith("survey created")]
    assert len(created) == 5 and {r["request_id"] for r in created} == relayed

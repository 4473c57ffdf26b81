"""Batches end to end: closes that arrive while no worker runs wait in PostgreSQL (the
dispatcher hands only a few to Redis), then go many to a message; every survey is still
delivered once, with its own attempt row and guid. gunicorn, the dispatcher and the two
workers of `make run` on PostgreSQL and Redis; the fake nps.today in this process."""

import base64
import json

import httpx
import pytest
import redis
from django.conf import settings

from integrations.dixa import simulator
from integrations.models import InboundEvent
from integrations.services.api_keys import api_key_create
from ivr.models import DeliveryAttempt, SurveyTrigger
from tests.fakes.npstoday import FakeNpsToday
from tests.integrations.factories import AccountFactory, SigningSecretFactory
from tests.ivr.factories import IvrMappingFactory
from tests.ivr.helpers import closed_body
from tests.support.processes import Stack, live_database_url, process_env, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]
SECRET = "b47c4e" * 8
CLOSES = 30


@pytest.fixture
def platform(django_db_setup, django_db_blocker, transactional_db, tmp_path):
    fake = FakeNpsToday(api_keys=["nps-test-key"]).start()
    redis.Redis.from_url(settings.TEST_REDIS_URL).flushdb()
    with django_db_blocker.unblock():
        env = process_env(
            tmp_path,
            DATABASE_URL=live_database_url(),
            REDIS_URL=settings.TEST_REDIS_URL,
            NPSTODAY_API_URL=fake.url,
            AUTH_CACHE_SECONDS="0",
        )
    stack = Stack(tmp_path)
    try:
        base = stack.gunicorn(env, workers=1)
        stack.dispatcher(env)
        yield stack, env, base, fake
    finally:
        stack.stop_all()
        fake.stop()


def test_a_backlog_goes_many_to_a_message_and_every_survey_once(platform):
    stack, env, base, fake = platform
    account = AccountFactory(npstoday_api_key="nps-test-key")
    SigningSecretFactory(account=account, secret=SECRET)
    IvrMappingFactory(account=account)
    key = api_key_create(account=account, name="dixa").plaintext
    # given a burst of closes while no worker runs
    for csid in range(1, CLOSES + 1):
        delivery = simulator.build_delivery(closed_body(csid=csid), key=key, secret=SECRET)
        response = httpx.post(
            f"{base}/api/dixa/relay", content=delivery.body, headers=delivery.headers, timeout=10
        )
        assert response.status_code == 202
    # then the dispatcher handed Redis a few (INBOUND_MAX_UNCLAIMED: 4, more only if several
    # arrived within one of its passes) and holds the rest back in the table
    events_queue = redis.Redis.from_url(settings.TEST_REDIS_URL)
    wait_until(
        lambda: _ids_waiting(events_queue) >= settings.INBOUND_MAX_UNCLAIMED,
        20,
        "the first hand-offs",
    )
    waiting = _ids_waiting(events_queue)
    assert waiting < CLOSES
    assert InboundEvent.objects.filter(queued_at=None).count() == CLOSES - waiting

    # when the workers start
    stack.workers(env)

    # then every close becomes one member, each with its own attempt and guid
    wait_until(
        lambda: SurveyTrigger.objects.filter(status="delivered").count() == CLOSES,
        60,
        "every survey delivered",
    )
    assert len(fake.members) == CLOSES
    attempts = DeliveryAttempt.objects.filter(trigger__account=account)
    assert attempts.count() == CLOSES
    assert {r.json()["guid"] for r in fake.recorded("/campaigns/")} == {
        str(g) for g in SurveyTrigger.objects.values_list("guid", flat=True)
    }
    # and the backlog went in batches: fewer delivery tasks than surveys
    assert attempts.values("task_id").distinct().count() < CLOSES


def _ids_waiting(queue: redis.Redis) -> int:
    """How many event ids the messages waiting in Redis' `events` list carry (kombu keeps
    each message as JSON, its body base64-encoded JSON: [args, kwargs, embed])."""
    total = 0
    for raw in queue.lrange("events", 0, -1):
        args, _kwargs, _embed = json.loads(base64.b64decode(json.loads(raw)["body"]))
        total += len(args[0])
    return total

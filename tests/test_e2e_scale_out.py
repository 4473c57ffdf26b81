"""Past one machine: two web servers, two worker groups (each with its own dispatcher) on one
PostgreSQL and one Redis. One group is SIGKILLed while its sends are in flight; every close
still becomes exactly one campaign member (docs/scaling.md)."""

import signal

import httpx
import pytest
import redis
from django.conf import settings

from integrations.dixa import simulator
from integrations.models import HandlerRun, InboundEvent
from integrations.services.api_keys import api_key_create
from ivr.models import DeliveryAttempt, SurveyTrigger
from tests.fakes.npstoday import FakeNpsToday
from tests.integrations.factories import AccountFactory, SigningSecretFactory
from tests.ivr.factories import IvrMappingFactory, NpsTodayDeliveryFactory
from tests.ivr.helpers import REALISTIC_CONVERSATION, closed_body
from tests.support.processes import (
    DISPATCHER_READY,
    WORKER_READY,
    Stack,
    live_database_url,
    process_env,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]
SECRET = "5ca1e0" * 8
CLOSES = 40


@pytest.fixture
def fake():
    server = FakeNpsToday(api_keys=["nps-test-key"]).start()
    yield server
    server.stop()


def test_one_worker_group_killed_mid_delivery_loses_and_doubles_nothing(
    transactional_db, tmp_path, fake
):
    # given one account, and nps.today holding its first four answers for 8 s (within the
    # client's 10 s timeout; a claim lasts longer than that, as in production)
    account = AccountFactory(npstoday_api_key="nps-test-key")
    NpsTodayDeliveryFactory(account=account, retry_seconds=1)
    SigningSecretFactory(account=account, secret=SECRET)
    IvrMappingFactory(account=account)
    key = api_key_create(account=account, name="dixa").plaintext
    fake.push(*[{"hang": 8}] * 4)
    redis.Redis.from_url(settings.TEST_REDIS_URL).flushdb()
    env = process_env(
        tmp_path,
        DATABASE_URL=live_database_url(),
        REDIS_URL=settings.TEST_REDIS_URL,
        NPSTODAY_API_URL=fake.url,
        INBOUND_CLAIM_TIMEOUT_SECONDS="4",
        SURVEY_CLAIM_TIMEOUT_SECONDS="12",
        SURVEY_REQUEUE_AFTER_SECONDS="2",
        AUTH_CACHE_SECONDS="0",
    )
    stack = Stack(tmp_path)
    try:
        webs = [stack.gunicorn(env, workers=1), stack.gunicorn(env, workers=1)]
        group_a = [stack.worker(env, name="group-a"), stack.dispatcher(env, name="dispatch-a")]

        # when closes arrive at both web servers
        for n in range(CLOSES):
            requester = {**REALISTIC_CONVERSATION["requester"], "email": f"c{n}@example.com"}
            body = closed_body(csid=70_000 + n, requester=requester)
            delivery = simulator.build_delivery(body, key=key, secret=SECRET)
            answer = httpx.post(
                f"{webs[n % 2]}/api/dixa/relay",
                content=delivery.body,
                headers=delivery.headers,
                timeout=10,
            )
            assert answer.status_code == 202

        # and, while group A waits on those answers and group B has joined, group A is
        # killed (worker, its pool, its dispatcher)
        def held():
            return [r for r in fake.recorded("/campaigns/") if r.status is None]

        wait_until(lambda: len(held()) >= 2, 60, "group A to wait on answers")
        # (B's two processes start side by side: all this must happen within the 8 s)
        group_b = [
            stack.worker(env, name="group-b", wait=False),
            stack.dispatcher(env, name="dispatch-b", wait=False),
        ]
        group_b[0].wait_for_log(WORKER_READY, timeout=60)
        group_b[1].wait_for_log(DISPATCHER_READY, timeout=60)
        assert held(), "group B took longer to start than nps.today holds the answers"
        for process in group_a:
            process.kill(signal.SIGKILL)
        assert all(process.alive() for process in group_b)

        # then group B finishes everything
        def all_delivered():
            return SurveyTrigger.objects.filter(account=account, status="delivered").count()

        wait_until(lambda: all_delivered() == CLOSES, 120, "every survey to be delivered")
    finally:
        stack.stop_all()

    # exactly once: one survey per close, one member per survey at nps.today, one handler
    # outcome per event, one successful try per survey
    surveys = SurveyTrigger.objects.filter(account=account)
    assert surveys.count() == CLOSES
    assert len({s.csid for s in surveys}) == CLOSES
    assert set(fake.members) == {str(s.guid) for s in surveys}
    assert InboundEvent.objects.filter(account=account, status="processed").count() == CLOSES
    assert HandlerRun.objects.filter(event__account=account, handler="survey").count() == CLOSES
    successes = DeliveryAttempt.objects.filter(trigger__account=account, outcome="success")
    assert successes.count() == CLOSES
    # and the sends group A died in were taken back and repeated with their guids
    interrupted = DeliveryAttempt.objects.filter(
        trigger__account=account, outcome=DeliveryAttempt.Outcome.INTERRUPTED
    )
    assert interrupted.count() >= 1

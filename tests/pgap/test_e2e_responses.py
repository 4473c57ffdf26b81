"""The loop end to end with real processes: Dixa's close goes through gunicorn, the
dispatcher and a Celery worker to the fake nps.today as a campaign member; the campaign is
subscribed to a hook of ours; the fake posts the customer's answer to gunicorn, as nps.today
would, and it is stored once, matched to the survey and paired with the agent's score."""

import httpx
import pytest
import redis
from django.conf import settings

from integrations.dixa import simulator
from integrations.services.api_keys import api_key_create
from ivr.models import SurveyTrigger
from pgap.models import PgapPair, SurveyResponse
from pgap.services.hooks import response_hook_revoke
from pgap.services.subscriptions import response_subscriptions_create
from tests.fakes.npstoday import FakeNpsToday
from tests.integrations.factories import AccountFactory, SigningSecretFactory
from tests.ivr.factories import IvrMappingFactory, NpsTodayDeliveryFactory
from tests.ivr.helpers import REALISTIC_CONVERSATION, closed_body
from tests.pgap.factories import AgentPredictionFactory
from tests.support.processes import Stack, live_database_url, process_env, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]
SECRET = "b0b0c0" * 8
CSID = REALISTIC_CONVERSATION["csid"]


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, tmp_path_factory):
    fake = FakeNpsToday(api_keys=["nps-test-key"]).start()
    tmp = tmp_path_factory.mktemp("responses")
    redis.Redis.from_url(settings.TEST_REDIS_URL).flushdb()
    with django_db_blocker.unblock():
        env = process_env(
            tmp,
            DATABASE_URL=live_database_url(),
            REDIS_URL=settings.TEST_REDIS_URL,
            NPSTODAY_API_URL=fake.url,
            AUTH_CACHE_SECONDS="0",
        )
    processes = Stack(tmp)
    try:
        base = processes.gunicorn(env, workers=2)
        processes.worker(env)
        processes.dispatcher(env)
        yield base, fake
    finally:
        processes.stop_all()
        fake.stop()


@pytest.fixture
def surveyed(stack, transactional_db, settings):
    """A close of CSID delivered to the fake nps.today as a campaign member."""
    base, fake = stack
    fake.reset()
    settings.NPSTODAY_API_URL = fake.url  # for the subscription calls made from this process
    account = AccountFactory(npstoday_api_key="nps-test-key")
    NpsTodayDeliveryFactory(account=account)
    SigningSecretFactory(account=account, secret=SECRET)
    mapping = IvrMappingFactory(account=account, campaign_id=7232)
    key = api_key_create(account=account, name="dixa").plaintext
    delivery = simulator.build_delivery(closed_body(), key=key, secret=SECRET)
    answer = httpx.post(
        f"{base}/api/dixa/relay", content=delivery.body, headers=delivery.headers, timeout=10
    )
    assert answer.status_code == 202
    wait_until(
        lambda: SurveyTrigger.objects.filter(account=account, status="delivered").exists(),
        30,
        "the survey to reach nps.today",
        interval=0.2,
    )
    return account, mapping, SurveyTrigger.objects.get(account=account), base, fake


def test_the_customers_answer_comes_back_matched_and_paired(surveyed):
    # given the agent predicted 6, and the campaign is subscribed to a hook on gunicorn
    account, mapping, trigger, base, fake = surveyed
    AgentPredictionFactory(mapping=mapping, csid=CSID, score=6)
    subscribed = response_subscriptions_create(account=account, base_url=base)
    assert subscribed.subscribed == [7232]
    answer = {"rating": 9, "comment": "Fast", "response_id": 8001}
    # when the customer answers and nps.today posts it, then posts it again
    first = fake.respond(str(trigger.guid), rating_time="2025-03-22T10:00:00Z", **answer)
    again = fake.respond(str(trigger.guid), rating_time="2025-03-22T10:00:00Z", **answer)
    # and an earlier version of it arrives out of order
    older = fake.respond(
        str(trigger.guid), rating=1, response_id=8001, rating_time="2025-03-22T09:00:00Z"
    )
    # then
    assert [d["status"] for d in first + again + older] == [202, 200, 200]
    stored = SurveyResponse.objects.get(account=account, response_id="8001")
    assert (stored.trigger, stored.matched_by, stored.rating) == (trigger, "csid", 9)
    pair = PgapPair.objects.get(account=account)
    assert (pair.csid, pair.agent_score, pair.customer_score, pair.gap) == (CSID, 6, 9, -3)
    assert SurveyResponse.objects.filter(account=account).count() == 1


def test_a_revoked_hook_is_refused_by_the_server(surveyed):
    account, _, trigger, base, fake = surveyed
    result = response_subscriptions_create(account=account, base_url=base)
    response_hook_revoke(hook=result.issued.hook)
    deliveries = fake.respond(str(trigger.guid), rating=5)
    assert [d["status"] for d in deliveries] == [401]
    assert not SurveyResponse.objects.filter(account=account).exists()

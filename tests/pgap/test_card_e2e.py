"""The card end to end with real processes: Dixa's card calls gunicorn (two workers, Redis as
Django's cache, as in production), which asks the fake nps.today for the token over HTTP;
the workers share the cached token, and a hanging nps.today still gets every card answered,
with the feedback marked unavailable."""

import base64

import httpx
import pytest
import redis
from django.conf import settings

from integrations.services.api_keys import api_key_create
from tests.fakes.npstoday import FakeNpsToday
from tests.integrations.factories import AccountFactory
from tests.ivr.factories import IvrMappingFactory, SurveyTriggerFactory
from tests.support.processes import Stack, live_database_url, process_env

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]
BODY = {
    "employeeEmail": "karla@corp.example",
    "customer_email": "jane@example.com",
    "customer_phone_number": "+4520304050",
}


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, tmp_path_factory):
    fake = FakeNpsToday(api_keys=["nps-test-key"]).start()
    tmp = tmp_path_factory.mktemp("card")
    redis.Redis.from_url(settings.TEST_REDIS_URL).flushdb()
    with django_db_blocker.unblock():
        env = process_env(
            tmp,
            DATABASE_URL=live_database_url(),
            REDIS_URL=settings.TEST_REDIS_URL,
            NPSTODAY_API_URL=fake.url,
            CARD_NPSTODAY_TIMEOUT_SECONDS="1",
            AUTH_CACHE_SECONDS="0",
        )
    processes = Stack(tmp)
    try:
        yield processes.gunicorn(env, workers=2, threads=4), fake
    finally:
        processes.stop_all()
        fake.stop()


@pytest.fixture
def card(stack, transactional_db):
    base, fake = stack
    fake.reset()
    redis.Redis.from_url(settings.TEST_REDIS_URL).flushdb()
    account = AccountFactory(npstoday_api_key="nps-test-key")
    SurveyTriggerFactory(mapping=IvrMappingFactory(account=account, campaign_name="CSAT"))
    key = api_key_create(account=account, name="dixa-card").plaintext
    auth = "Basic " + base64.b64encode(f"ApiKey:{key}".encode()).decode()

    def call(body=BODY):
        return httpx.post(
            f"{base}/api/dixa/card", json=body, headers={"Authorization": auth}, timeout=15
        )

    return call, fake


def test_the_workers_share_one_cached_token(card):
    call, fake = card
    # when twelve cards of one agent open, spread over gunicorn's two workers
    answers = [call() for _ in range(12)]
    # then each has the history and the same token, which nps.today was asked for once
    assert {a.status_code for a in answers} == {200}
    assert {a.json()["token"] for a in answers} == {answers[0].json()["token"]}
    assert answers[0].json()["surveys"][0]["campaign"] == "CSAT"
    assert len(fake.recorded("/employees/token")) == 1
    # and the token is kept in Redis (Django's cache), where every process finds it
    keys = redis.Redis.from_url(settings.TEST_REDIS_URL).keys("*card:token:*")
    assert len(keys) == 1


def test_a_hanging_npstoday_still_gets_the_card_its_answer(card):
    call, fake = card
    # given nps.today answering only after Dixa would have given up
    fake.push({"hang": 11}, {"hang": 11})
    # when the card opens
    answer = call()
    # then it is answered, the feedback marked unavailable, our history still there
    assert answer.status_code == 200
    document = answer.json()
    assert document["feedback"]["available"] is False
    reason = f"nps.today ({fake.url}) did not answer: no answer within 1 s"
    assert document["feedback"]["reason"] == reason
    assert document["surveys"][0]["campaign"] == "CSAT"
    # and the next card of the account is answered without asking nps.today again
    assert call({**BODY, "employeeEmail": "bo@corp.example"}).json()["feedback"]["reason"] == (
        reason
    )
    assert len(fake.recorded("/employees/token")) == 1

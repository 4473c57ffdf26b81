"""The capture end to end with real processes: Dixa's events go through gunicorn, the
dispatcher and a Celery worker; the agent's score is read from the fake Dixa (or taken from
the attribute event) and reaches the fake nps.today in the member's custom."""

import json

import httpx
import pytest
import redis
from django.conf import settings

from integrations.dixa import simulator
from integrations.services.api_keys import api_key_create
from ivr.models import SurveyTrigger
from pgap.models import AgentPrediction
from tests.fakes.dixa import FakeDixa
from tests.fakes.npstoday import FakeNpsToday
from tests.integrations.factories import AccountFactory, SigningSecretFactory
from tests.ivr.factories import IvrMappingFactory, NpsTodayDeliveryFactory
from tests.ivr.helpers import REALISTIC_CONVERSATION, closed_body
from tests.pgap.factories import PgapSetupFactory
from tests.support.processes import Stack, live_database_url, process_env, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]
SECRET = "c0ffee" * 8
CSID = REALISTIC_CONVERSATION["csid"]


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, tmp_path_factory):
    nps = FakeNpsToday(api_keys=["nps-test-key"]).start()
    dixa = FakeDixa(tokens=["dixa-test-token"]).start()
    tmp = tmp_path_factory.mktemp("capture")
    redis.Redis.from_url(settings.TEST_REDIS_URL).flushdb()
    with django_db_blocker.unblock():
        env = process_env(
            tmp,
            DATABASE_URL=live_database_url(),
            REDIS_URL=settings.TEST_REDIS_URL,
            NPSTODAY_API_URL=nps.url,
            DIXA_API_URL=dixa.url,
            AUTH_CACHE_SECONDS="0",
        )
    processes = Stack(tmp)
    try:
        base = processes.gunicorn(env, workers=2)
        processes.worker(env)
        processes.dispatcher(env)
        yield base, nps, dixa
    finally:
        processes.stop_all()
        nps.stop()
        dixa.stop()


@pytest.fixture
def tenant(stack, transactional_db):
    base, nps, dixa = stack
    nps.reset()
    dixa.reset()
    account = AccountFactory(npstoday_api_key="nps-test-key")
    NpsTodayDeliveryFactory(account=account)
    SigningSecretFactory(account=account, secret=SECRET)
    IvrMappingFactory(account=account, campaign_id=7232)
    key = api_key_create(account=account, name="dixa").plaintext

    def post(body: dict) -> None:
        delivery = simulator.build_delivery(body, key=key, secret=SECRET)
        answer = httpx.post(
            f"{base}/api/dixa/relay", content=delivery.body, headers=delivery.headers, timeout=10
        )
        assert answer.status_code == 202

    return account, post, nps, dixa


def delivered_custom(nps) -> dict:
    wait_until(
        lambda: SurveyTrigger.objects.filter(status="delivered").exists(),
        40,
        "the survey to reach nps.today",
        interval=0.2,
    )
    [request] = nps.recorded("/campaigns/7232/respondent")
    return json.loads(request.json()["custom"])


def test_the_score_read_from_dixa_goes_with_the_member(tenant):
    # given P-GAP on, and Dixa holds the agent's 7
    account, post, nps, dixa = tenant
    PgapSetupFactory(account=account)
    dixa.add_conversation(CSID, p_gap=["7"])
    # when Dixa posts the close
    post(closed_body())
    # then the member carries the score, read once from Dixa with the token
    assert delivered_custom(nps) == {"dixaConversationId": CSID, "pGap": 7}
    prediction = AgentPrediction.objects.get()
    assert (prediction.status, prediction.source, prediction.score) == ("captured", "api", 7)
    [read] = dixa.recorded(f"/v1/conversations/{CSID}")
    assert read.headers["authorization"] == "dixa-test-token"


def test_a_score_that_came_by_webhook_needs_no_call_to_dixa(tenant):
    account, post, nps, dixa = tenant
    PgapSetupFactory(account=account)
    update = closed_body(event_type="ConversationCustomAttributeUpdated")
    update["data"]["custom_attributes"] = [{"id": "a-1", "identifier": "p_gap", "value": ["9"]}]
    post(update)
    wait_until(
        lambda: AgentPrediction.objects.filter(status="captured").exists(),
        30,
        "the attribute event to be recorded",
        interval=0.1,
    )
    post(closed_body())
    assert delivered_custom(nps) == {"dixaConversationId": CSID, "pGap": 9}
    assert not dixa.recorded()


def test_a_rate_limited_read_is_retried_and_the_waiting_survey_woken(tenant):
    # given Dixa answers the first read with 429 and Retry-After: 1
    account, post, nps, dixa = tenant
    PgapSetupFactory(account=account, wait_seconds=60)
    dixa.add_conversation(CSID, p_gap=["4"])
    dixa.push({"status": 429, "retry_after": "1"})
    # when the close comes
    post(closed_body())
    # then the survey waits, the read is retried a second later, and the survey goes at
    # once with the score (long before its 60 s wait is over)
    assert delivered_custom(nps) == {"dixaConversationId": CSID, "pGap": 4}
    statuses = [r.status for r in dixa.recorded(f"/v1/conversations/{CSID}")]
    assert statuses == [429, 200]
    trigger = SurveyTrigger.objects.get()
    assert trigger.attempt_count == 1
    assert (trigger.finished_at - trigger.created_at).total_seconds() < 30


def test_with_dixa_down_the_survey_goes_without_the_score_after_the_wait(tenant):
    # given Dixa fails every read, and surveys wait 3 s for the score
    account, post, nps, dixa = tenant
    PgapSetupFactory(account=account, wait_seconds=3)
    dixa.push(*[{"status": 503}] * 10)
    # when the close comes
    post(closed_body())
    # then the survey is not lost: it goes without the score, saying so
    assert delivered_custom(nps) == {"dixaConversationId": CSID}
    trigger = SurveyTrigger.objects.get()
    assert "sent without the agent's P-GAP score" in trigger.reason
    prediction = AgentPrediction.objects.get()
    assert prediction.status == "pending" and "HTTP 503" in prediction.reason


def test_the_whole_loop_from_dixas_close_to_the_gap_on_the_page(tenant, stack, settings):
    """Dixa closes a conversation whose agent predicted 7 → the member reaches nps.today
    with the score → nps.today posts the customer's 9 to our hook → the P-GAP page shows
    the pair and its gap of −2."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from pgap.models import PgapPair
    from pgap.services.subscriptions import response_subscriptions_create

    # given P-GAP on, Dixa holding the agent's 7, and the campaign subscribed to our hook
    base, *_ = stack
    account, post, nps, dixa = tenant
    settings.NPSTODAY_API_URL = nps.url  # the subscription is made from this process
    PgapSetupFactory(account=account)
    dixa.add_conversation(CSID, p_gap=["7"])
    assert response_subscriptions_create(account=account, base_url=base).subscribed == [7232]
    # when Dixa posts the close
    post(closed_body())
    # then the member carries the agent's score
    assert delivered_custom(nps) == {"dixaConversationId": CSID, "pGap": 7}
    # when the customer answers 9 and nps.today posts it to our hook
    trigger = SurveyTrigger.objects.get(account=account)
    [delivery] = nps.respond(str(trigger.guid), rating=9, comment="Quick help")
    assert delivery["status"] == 202
    # then the pair is made, and the P-GAP page shows it with its gap
    pair = PgapPair.objects.get(account=account)
    assert (pair.agent_score, pair.customer_score, pair.gap) == (7, 9, -2)
    admin = get_user_model().objects.create_superuser("pgap-admin", password="pw-12345678")
    browser = Client()
    browser.force_login(admin)
    page = browser.get(reverse("admin:pgap_pgappair_changelist"), {"account": account.pk})
    assert page.status_code == 200
    overall = page.context["data"].overall
    assert (overall.pairs, overall.mean_gap) == (1, -2)
    text = page.content.decode()
    assert '<div class="value">1</div><div class="name">pairs</div>' in text
    assert 'title="agent 7, customer 9: 1 pair"' in text  # its cell in the 11 × 11 matrix

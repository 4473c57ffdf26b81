"""The relay end to end: gunicorn receives Dixa's POST, a real Celery worker and beat on
PostgreSQL and Redis process it, and the fake nps.today (a real HTTP server in this
process) receives the campaign member."""

import re
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest
import redis
from django.conf import settings

from integrations.dixa import simulator
from integrations.models import HandlerRun, InboundEvent
from integrations.services.api_keys import api_key_create
from ivr.models import DeliveryAttempt, NpsTodayDelivery, SurveyTrigger
from ivr.services import operations
from tests.fakes.npstoday import FakeNpsToday
from tests.integrations.factories import AccountFactory, SigningSecretFactory
from tests.ivr.factories import QUEUE_ID, IvrMappingFactory, NpsTodayDeliveryFactory
from tests.ivr.helpers import REALISTIC_CONVERSATION, closed_body, expected_member, survey_reason
from tests.support.processes import ROOT, Stack, live_database_url, process_env, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]
SECRET = "a11ce5" * 8


class Relay:
    def __init__(self, stack: Stack, env: dict, base: str, fake: FakeNpsToday):
        self.stack, self.env, self.base, self.fake = stack, env, base, fake
        self.worker = stack.worker(env)
        self.dispatcher = None

    def restart_worker(self):
        self.worker = self.stack.worker(self.env, name=f"worker{len(self.stack.processes)}")


@pytest.fixture(scope="module")
def relay(django_db_setup, django_db_blocker, tmp_path_factory):
    fake = FakeNpsToday(api_keys=["nps-test-key"]).start()
    tmp = tmp_path_factory.mktemp("relay")
    redis.Redis.from_url(settings.TEST_REDIS_URL).flushdb()
    with django_db_blocker.unblock():
        env = process_env(
            tmp,
            DATABASE_URL=live_database_url(),
            REDIS_URL=settings.TEST_REDIS_URL,
            NPSTODAY_API_URL=fake.url,
            SURVEY_CLAIM_TIMEOUT_SECONDS="4",
            SURVEY_REQUEUE_AFTER_SECONDS="2",
            NPSTODAY_DISABLE_AFTER_FAILURES="4",
            AUTH_CACHE_SECONDS="0",
        )
    stack = Stack(tmp)
    try:
        base = stack.gunicorn(env, workers=2)
        relay = Relay(stack, env, base, fake)
        relay.dispatcher = stack.dispatcher(env)
        yield relay
    finally:
        stack.stop_all()
        fake.stop()


@pytest.fixture
def tenant(relay, transactional_db):
    relay.fake.reset()
    account = AccountFactory(npstoday_api_key="nps-test-key")
    NpsTodayDeliveryFactory(account=account, retry_seconds=2)
    SigningSecretFactory(account=account, secret=SECRET)
    key = api_key_create(account=account, name="dixa").plaintext
    return account, key


def deliver(relay, key, body: dict) -> int:
    delivery = simulator.build_delivery(body, key=key, secret=SECRET)
    response = httpx.post(
        f"{relay.base}/api/dixa/relay", content=delivery.body, headers=delivery.headers, timeout=10
    )
    return response.status_code


def trigger_reaches(status: str, timeout: float = 30, **filters) -> SurveyTrigger:
    def reached():
        return SurveyTrigger.objects.filter(status=status, **filters).exists()

    wait_until(reached, timeout, f"a trigger to become {status}", interval=0.2)
    return SurveyTrigger.objects.get(status=status, **filters)


def test_a_realistic_close_becomes_exactly_this_campaign_member(relay, tenant):
    # given a queue mapped to campaign 7232
    account, key = tenant
    IvrMappingFactory(account=account, campaign_id=7232)
    # when Dixa posts a close
    assert deliver(relay, key, closed_body()) == 202
    # then nps.today receives the seed's mapping, once
    trigger = trigger_reaches("delivered")
    [request] = relay.fake.recorded("/campaigns/7232/respondent")
    assert request.headers["authorization"] == "apikey nps-test-key"
    assert request.headers["idempotency-key"] == str(trigger.guid)
    assert request.json() == expected_member(trigger.guid)
    assert len(relay.fake.members) == 1
    assert trigger.attempts.get().outcome == "success"


def test_every_rule_records_its_skip_reason(relay, tenant):
    # given mappings on separate queues, each with one rule to trip
    account, key = tenant
    IvrMappingFactory(account=account, queue_id=QUEUE_ID, quarantine_days=30)
    IvrMappingFactory(
        account=account, queue_id="q-chat", campaign_id=7300, channels=["WIDGET_CHAT"]
    )
    IvrMappingFactory(account=account, queue_id="q-tags", excluded_tags=["refund"])
    IvrMappingFactory(account=account, queue_id="q-sample", sample_percent=0)
    cases = {
        "no_mapping": closed_body(csid=1, queue={"id": "q-unmapped", "name": "x"}),
        "no_agent": closed_body(csid=2, assignee=None),
        "abandoned": closed_body(csid=3, event_type="ConversationAbandoned"),
        "channel": closed_body(csid=4, queue={"id": "q-chat", "name": "Chat"}, channel="EMAIL"),
        "tag": closed_body(csid=5, queue={"id": "q-tags", "name": "Tags"}),
        "sample": closed_body(csid=6, queue={"id": "q-sample", "name": "S"}),
        "first": closed_body(csid=7),
        "unreachable": closed_body(
            csid=9, requester={**REALISTIC_CONVERSATION["requester"], "email": None, "phone": None}
        ),
    }
    for body in cases.values():
        assert deliver(relay, key, body) == 202
    trigger_reaches("delivered", csid=7)
    # a second close of the same conversation, and then another conversation of the same person
    assert deliver(relay, key, closed_body(csid=7)) == 202
    assert deliver(relay, key, closed_body(csid=8)) == 202

    def reasons():
        runs = HandlerRun.objects.filter(event__account=account, handler="survey")
        return dict(runs.values_list("event__csid", "reason"))

    wait_until(
        lambda: (
            not InboundEvent.objects.filter(status__in=["received", "processing"]).exists()
            and InboundEvent.objects.filter(account=account).count() == 10
        ),
        30,
        "every event to be processed",
    )
    got = reasons()
    assert got[1] == "no enabled IVR mapping for queue q-unmapped"
    assert got[2] == "no assigned agent: nps.today requires one to send a survey"
    assert got[3] == "abandoned conversations (closed without an agent) are never surveyed"
    assert got[4] == "channel EMAIL is not surveyed by this mapping"
    assert got[5] == "excluded tag Refund"
    assert got[6] == "not in the 0% sample"
    first = SurveyTrigger.objects.get(csid=7)
    closes_of_7 = InboundEvent.objects.filter(csid=7).order_by("pk")
    assert survey_reason(closes_of_7[1]) == (
        f"already surveyed for this conversation and campaign (survey #{first.pk})"
    )
    assert got[8] == "quarantine: jane@example.com was surveyed within 30 days"
    assert got[9] == "the requester has neither an email address nor a phone number"
    assert len(relay.fake.members) == 1


def login(client: httpx.Client, relay: Relay) -> None:
    # Made by the platform itself, so the password is hashed as the server expects.
    env = {
        **relay.env,
        "DJANGO_SUPERUSER_USERNAME": "ops",
        "DJANGO_SUPERUSER_PASSWORD": "ops-password-1",
    }
    subprocess.run(
        [sys.executable, "manage.py", "ensure_superuser"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    base = relay.base
    page = client.get(f"{base}/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = client.post(
        f"{base}/admin/login/",
        data={
            "username": "ops",
            "password": "ops-password-1",
            "csrfmiddlewaretoken": token,
            "next": "/admin/",
        },
    )
    assert response.status_code == 302, response.text[:500]


def test_retry_schedule_dead_letter_and_bulk_resend_from_the_admin(relay, tenant):
    # given nps.today failing three times, and a policy of 3 tries 2 s apart
    account, key = tenant
    NpsTodayDelivery.objects.filter(account=account).update(max_attempts=3)
    IvrMappingFactory(account=account)
    relay.fake.push({"status": 503}, {"status": 503}, {"status": 503})
    # when a close arrives
    assert deliver(relay, key, closed_body()) == 202
    # then it is tried 3 times, at least 2 s apart, and becomes a dead letter
    trigger = trigger_reaches("failed", timeout=40)
    attempts = list(trigger.attempts.order_by("number"))
    assert [a.outcome for a in attempts] == ["retry", "retry", "failed"]
    assert [a.response_status_code for a in attempts] == [503, 503, 503]
    gaps = [
        (b.created_at - a.created_at).total_seconds()
        for a, b in zip(attempts, attempts[1:], strict=False)
    ]
    assert all(gap >= 2 for gap in gaps), gaps
    assert trigger.reason == "gave up after 3 tries; last: HTTP 503"
    # when an admin resends dead letters failed since a minute ago, through the admin
    with httpx.Client(follow_redirects=False, timeout=10) as client:
        login(client, relay)
        url = f"{relay.base}/admin/ivr/surveytrigger/resend-dead-letters/"
        page = client.get(url)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        since = time.gmtime(time.time() - 60)
        response = client.post(
            url,
            data={
                "csrfmiddlewaretoken": token,
                "since_0": time.strftime("%Y-%m-%d", since),
                "since_1": time.strftime("%H:%M:%S", since),
            },
        )
        assert response.status_code == 200 and "Resend 1 dead letter" in response.text
        response = client.post(  # the confirmation, as the preview's form sends it
            url,
            data={
                "csrfmiddlewaretoken": token,
                "since_0": time.strftime("%Y-%m-%d", since),
                "since_1": time.strftime("%H:%M:%S", since),
                "confirmed": "yes",
            },
        )
        assert response.status_code == 302
    # then it is delivered with the same guid
    delivered = trigger_reaches("delivered", pk=trigger.pk)
    assert delivered.guid == trigger.guid
    assert len(relay.fake.members) == 1


def test_permanent_4xx_stops_at_once(relay, tenant):
    account, key = tenant
    IvrMappingFactory(account=account)
    relay.fake.push({"status": 400, "body": {"message": "invalid phone number"}})
    assert deliver(relay, key, closed_body()) == 202
    trigger = trigger_reaches("failed")
    assert trigger.reason == "permanent failure: HTTP 400"
    assert trigger.attempts.get().response_body == '{"message": "invalid phone number"}'
    time.sleep(3)  # longer than the retry spacing: nothing more is sent
    assert len(relay.fake.recorded("/campaigns/")) == 1


def test_429_retry_after_is_honoured(relay, tenant):
    account, key = tenant
    IvrMappingFactory(account=account)
    relay.fake.push({"status": 429, "retry_after": "3"})
    assert deliver(relay, key, closed_body()) == 202
    trigger = trigger_reaches("delivered", timeout=30)
    first, second = trigger.attempts.order_by("number")
    assert first.response_status_code == 429 and second.outcome == "success"
    assert (second.created_at - first.created_at).total_seconds() >= 3


def test_key_auto_disabled_after_failures_in_a_row_and_resumed(relay, tenant):
    # given nps.today failing more often than the disable threshold (4, for the test)
    account, key = tenant
    NpsTodayDelivery.objects.filter(account=account).update(max_attempts=10, retry_seconds=1)
    IvrMappingFactory(account=account)
    relay.fake.push(*[{"status": 500}] * 4)
    assert deliver(relay, key, closed_body()) == 202
    # then the key is disabled and the survey held, not sent again
    trigger = trigger_reaches("held", timeout=40)
    policy = NpsTodayDelivery.objects.get(account=account)
    assert "disabled after 4 failed deliveries in a row" in policy.disabled_reason
    sent = len(relay.fake.recorded("/campaigns/"))
    time.sleep(2.5)
    assert len(relay.fake.recorded("/campaigns/")) == sent == 4
    # when an admin re-enables the key
    operations.npstoday_key_reenable(account=account)
    # then the held survey goes out
    trigger_reaches("delivered", pk=trigger.pk)
    assert len(relay.fake.members) == 1


def test_a_worker_killed_mid_send_loses_nothing_and_repeats_with_the_same_guid(relay, tenant):
    # given nps.today that takes 6 s to answer the first POST
    account, key = tenant
    IvrMappingFactory(account=account)
    relay.fake.push({"hang": 6})
    assert deliver(relay, key, closed_body()) == 202
    wait_until(lambda: relay.fake.recorded("/campaigns/"), 20, "the first POST to arrive")
    # when the worker is killed mid-send and a new one starts
    relay.worker.kill(signal.SIGKILL)
    relay.restart_worker()
    # then the survey is sent again with the same guid and lands once, also after the
    # first POST (which nps.today carried out, though its answer never arrived) completes
    trigger = trigger_reaches("delivered", timeout=40)
    first = relay.fake.recorded("/campaigns/")[0]
    wait_until(lambda: first.status is not None, 20, "the hung first POST to finish")
    guids = {r.json()["guid"] for r in relay.fake.recorded("/campaigns/")}
    assert guids == {str(trigger.guid)}
    assert len(relay.fake.recorded("/campaigns/")) >= 2
    assert len(relay.fake.members) == 1
    outcomes = list(trigger.attempts.order_by("number").values_list("outcome", flat=True))
    assert outcomes[0] == DeliveryAttempt.Outcome.INTERRUPTED and outcomes[-1] == "success"


def test_a_wiped_redis_loses_nothing(relay, tenant):
    # given a survey waiting for its retry (a countdown message in Redis)
    account, key = tenant
    IvrMappingFactory(account=account, once_per_conversation=False)
    relay.fake.push({"status": 503})
    assert deliver(relay, key, closed_body(csid=1)) == 202
    wait_until(lambda: DeliveryAttempt.objects.filter(outcome="retry").exists(), 20, "a retry")
    # when Redis is wiped
    redis.Redis.from_url(settings.TEST_REDIS_URL).flushdb()
    assert deliver(relay, key, closed_body(csid=2)) == 202
    # then both surveys are delivered
    wait_until(
        lambda: SurveyTrigger.objects.filter(account=account, status="delivered").count() == 2,
        40,
        "both surveys to be delivered after the wipe",
    )
    assert len(relay.fake.members) == 2


def test_the_same_event_three_times_at_once_makes_one_member(relay, tenant):
    account, key = tenant
    IvrMappingFactory(account=account)
    delivery = simulator.build_delivery(closed_body(), key=key, secret=SECRET)
    barrier = threading.Barrier(3)
    codes = []

    def send():
        barrier.wait()
        codes.append(
            httpx.post(
                f"{relay.base}/api/dixa/relay",
                content=delivery.body,
                headers=delivery.headers,
                timeout=10,
            ).status_code
        )

    threads = [threading.Thread(target=send) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [200, 200, 202]
    trigger_reaches("delivered")
    time.sleep(1)
    assert SurveyTrigger.objects.count() == 1
    assert len(relay.fake.members) == 1
    assert len(relay.fake.recorded("/campaigns/")) == 1
    assert REALISTIC_CONVERSATION["csid"] == SurveyTrigger.objects.get().csid


def test_a_dispatcher_killed_and_restarted_loses_nothing(relay, tenant):
    # given the dispatcher killed outright
    account, key = tenant
    IvrMappingFactory(account=account, once_per_conversation=False)
    relay.dispatcher.kill(signal.SIGKILL)
    relay.dispatcher.proc.wait()
    # when closes arrive meanwhile, they are acknowledged and wait in the database
    for csid in (11, 12, 13):
        assert deliver(relay, key, closed_body(csid=csid)) == 202
    time.sleep(1.5)
    assert InboundEvent.objects.filter(account=account, status="received").count() == 3
    # then a new dispatcher hands them over and each is surveyed once
    relay.dispatcher = relay.stack.dispatcher(relay.env, name="dispatcher2")
    wait_until(
        lambda: SurveyTrigger.objects.filter(account=account, status="delivered").count() == 3,
        30,
        "the three surveys after the restart",
    )
    assert len(relay.fake.members) == 3

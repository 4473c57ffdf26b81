"""Connect Dixa end to end, with real processes: gunicorn, the dispatcher, Celery workers and
beat on PostgreSQL and Redis; the fake Dixa (its webhook API and its sender) and the fake
nps.today as real HTTP servers. An admin clicks Connect over HTTP; closing a conversation on
the fake Dixa becomes a campaign member; the relay goes down and Dixa's retries land when it
is back, and the admin page shows what Dixa saw; a key rotation under 20 closes/s loses
nothing."""

import json
import re
import threading
import time

import httpx
import pytest
import redis
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from integrations import launcher
from integrations.models import ApiKey, DixaConnection, DixaDeliveryLog, InboundEvent
from ivr.models import SurveyTrigger
from tests.fakes.dixa import FakeDixa
from tests.fakes.npstoday import FakeNpsToday
from tests.integrations.factories import AccountFactory
from tests.ivr.factories import QUEUE_ID, IvrMappingFactory, NpsTodayDeliveryFactory
from tests.support.processes import (
    Stack,
    free_port,
    live_database_url,
    process_env,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]
TOKEN = "dixa-test-token"
RETRY_SPACING = 2.0  # Dixa's minute, compressed


class Platform:
    def __init__(self, stack: Stack, env: dict, port: int):
        self.stack, self.env, self.port = stack, env, port
        self.base = f"http://127.0.0.1:{port}"
        self.web = None

    def start_web(self) -> None:
        args = launcher.web(bind=f"127.0.0.1:{self.port}", workers=2, threads=16)
        self.web = self.stack.start(f"web-{len(self.stack.processes)}", args, self.env)

        def up():
            try:
                return httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, 30, "gunicorn to answer /healthz")

    def stop_web(self) -> None:
        self.web.stop()


@pytest.fixture
def fakes():
    dixa = FakeDixa(tokens=[TOKEN], retry_spacing=RETRY_SPACING).start()
    nps = FakeNpsToday(api_keys=["nps-test-key"]).start()
    yield dixa, nps
    dixa.stop()
    nps.stop()


@pytest.fixture
def platform(transactional_db, tmp_path, fakes):
    dixa, nps = fakes
    redis.Redis.from_url(settings.TEST_REDIS_URL).flushdb()
    port = free_port()
    env = process_env(
        tmp_path,
        DATABASE_URL=live_database_url(),
        REDIS_URL=settings.TEST_REDIS_URL,
        NPSTODAY_API_URL=nps.url,
        DIXA_API_URL=dixa.url,
        PUBLIC_URL=f"http://127.0.0.1:{port}",
        DIXA_SYNC_DEBOUNCE_SECONDS="1",
        DIXA_MAINTAIN_SECONDS="1",
        DIXA_WATCH_SECONDS="3600",  # the admin's Check now pulls the status here
        DIXA_KEY_GRACE_SECONDS="3600",
        # Longer than Dixa's retries of one delivery take (5 × RETRY_SPACING), as in
        # production (15 min against ~5): a delivery the old subscription is still retrying
        # is signed with the old secret, which must be accepted until then.
        DIXA_SECRET_OVERLAP_SECONDS=str(int(6 * RETRY_SPACING)),
        SURVEY_REQUEUE_AFTER_SECONDS="2",
    )
    stack = Stack(tmp_path)
    try:
        platform = Platform(stack, env, port)
        platform.start_web()
        stack.dispatcher(env)
        stack.workers(env)
        stack.beat(env)
        yield platform
    finally:
        stack.stop_all()


@pytest.fixture
def tenant(transactional_db, django_user_model):
    account = AccountFactory(name="E2E Connect", npstoday_api_key="nps-test-key")
    NpsTodayDeliveryFactory(account=account, retry_seconds=2)
    IvrMappingFactory(account=account, queue_id=QUEUE_ID, campaign_id=7232)
    DixaConnection.objects.create(account=account, api_token=TOKEN)
    # Hashed as the server's settings hash (the test settings use a fast hasher).
    hasher = PBKDF2PasswordHasher()
    user = django_user_model.objects.create_superuser("admin", "admin@example.com", None)
    user.password = hasher.encode("pw-e2e-connect", hasher.salt())
    user.save(update_fields=["password"])
    return account


class Admin:
    """A browser's requests to the admin: log in, press buttons (CSRF and all)."""

    def __init__(self, base: str):
        self.base = base
        self.client = httpx.Client(base_url=base, timeout=15, follow_redirects=True)
        self.client.get("/admin/login/")
        response = self.client.post(
            "/admin/login/?next=/admin/",
            data={
                "username": "admin",
                "password": "pw-e2e-connect",
                "csrfmiddlewaretoken": self.client.cookies["csrftoken"],
            },
            headers={"Referer": f"{base}/admin/login/"},
        )
        assert response.status_code == 200 and "Log out" in response.text, response.text[:500]

    def press(self, connection: DixaConnection, action: str) -> httpx.Response:
        page = f"/admin/integrations/dixaconnection/{connection.pk}/change/"
        response = self.client.post(
            f"/admin/integrations/dixaconnection/{connection.pk}/dixa/{action}/",
            data={"csrfmiddlewaretoken": self.client.cookies["csrftoken"]},
            headers={"Referer": f"{self.base}{page}"},
        )
        assert response.status_code == 200, response.text[:500]
        return response

    def page(self, connection: DixaConnection) -> str:
        return self.client.get(f"/admin/integrations/dixaconnection/{connection.pk}/change/").text


def surveyed_csids() -> list[int]:
    return list(
        SurveyTrigger.objects.filter(status=SurveyTrigger.Status.DELIVERED).values_list(
            "csid", flat=True
        )
    )


def members_by_csid(nps: FakeNpsToday) -> dict[int, int]:
    counts: dict[int, int] = {}
    with nps.lock:
        members = list(nps.members.values())
    for member in members:
        csid = int(json.loads(member["custom"])["dixaConversationId"])
        counts[csid] = counts.get(csid, 0) + 1
    return counts


def close(dixa: FakeDixa, csid: int) -> str:
    response = httpx.post(
        f"{dixa.url}/__fake__/dixa/close", json={"csid": csid, "queue_id": QUEUE_ID}, timeout=5
    )
    assert response.status_code == 200
    return response.json()["event_id"]


def connected(dixa: FakeDixa, account) -> DixaConnection:
    def done():
        connection = DixaConnection.objects.get(account=account)
        return connection.state == DixaConnection.State.CONNECTED and connection.enabled

    wait_until(done, 30, "Connect Dixa to finish")
    return DixaConnection.objects.get(account=account)


def test_connect_close_survey_outage_and_dixas_view(platform, fakes, tenant):
    dixa, nps = fakes
    admin = Admin(platform.base)
    connection = DixaConnection.objects.get(account=tenant)
    # when the admin clicks Connect Dixa
    admin.press(connection, "connect")
    connection = connected(dixa, tenant)
    # then the fake Dixa holds our subscription
    [subscription] = dixa.webhooks_state()["subscriptions"]
    assert subscription["url"] == f"{platform.base}/api/dixa/relay"
    assert connection.subscription_id == subscription["id"]
    # when a conversation is closed in Dixa
    event_id = close(dixa, 5001)
    # then the signed webhook is verified and a survey reaches nps.today
    wait_until(lambda: members_by_csid(nps) == {5001: 1}, 60, "the survey to reach nps.today")
    event = InboundEvent.objects.get(event_id=event_id)
    assert event.verification == InboundEvent.Verification.VERIFIED

    # when the relay is down while three conversations are closed
    platform.stop_web()
    outage = [close(dixa, csid) for csid in (5002, 5003, 5004)]
    wait_until(lambda: failures(dixa) >= 3, 15, "Dixa to see the relay down")
    time.sleep(RETRY_SPACING)  # a second round of failed retries
    platform.start_web()
    # then Dixa's retries land once it is back: every event arrives once, surveyed once
    wait_until(
        lambda: members_by_csid(nps) == {5001: 1, 5002: 1, 5003: 1, 5004: 1},
        90,
        "the retries to be surveyed",
    )
    assert InboundEvent.objects.filter(event_id__in=outage).count() == 3
    # when the admin asks for Dixa's view
    admin.press(connection, "watch")
    wait_until(
        lambda: DixaDeliveryLog.objects.filter(reconciliation="failed").count() >= 3,
        30,
        "the delivery status to be pulled",
    )
    # then the page shows the failures Dixa saw and no unrecorded acceptance
    page = admin.page(connection)
    assert "no answer: ConnectError" in page
    assert not DixaDeliveryLog.objects.filter(reconciliation="missing").exists()
    recorded = DixaDeliveryLog.objects.filter(reconciliation="recorded")
    assert set(recorded.values_list("event_id", flat=True)) == {event_id, *outage}


def failures(dixa: FakeDixa) -> int:
    with dixa.lock:
        return sum(
            1
            for sub in dixa.subscriptions.values()
            for logs in sub.logs.values()
            for entry in logs
            if not entry["deliveryDetail"]["success"]
        )


class Traffic:
    """Closes conversations on the fake Dixa at `rate` a second, from a thread, until the
    `with` block ends."""

    def __init__(self, dixa: FakeDixa, rate: int = 20, first: int = 10_000):
        self.dixa, self.rate, self.first = dixa, rate, first
        self.csids: list[int] = []
        self.enough = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        start = time.monotonic()
        while not self.enough.is_set() and len(self.csids) < 60 * self.rate:
            delay = start + len(self.csids) / self.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            csid = self.first + len(self.csids)
            self.dixa.close_conversation(csid, queue_id=QUEUE_ID)
            self.csids.append(csid)

    def __enter__(self) -> "Traffic":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.enough.set()
        self.thread.join()


def every_close_surveyed_once(dixa: FakeDixa, nps: FakeNpsToday, csids: list[int]) -> None:
    wait_until(lambda: len(surveyed_csids()) >= len(csids), 120, "every close to be surveyed")
    wait_until(dixa.sender.idle, 30, "Dixa's retries to finish")
    assert sorted(surveyed_csids()) == csids
    assert members_by_csid(nps) == dict.fromkeys(csids, 1)


def test_key_rotation_under_20_closes_a_second_loses_nothing(platform, fakes, tenant):
    dixa, nps = fakes
    admin = Admin(platform.base)
    admin.press(DixaConnection.objects.get(account=tenant), "connect")
    connection = connected(dixa, tenant)
    old_key = connection.api_key
    # given steady traffic: 20 closes a second, until the rotation is over and then some
    with Traffic(dixa) as traffic:
        # when the admin rotates the relay key four seconds in
        time.sleep(4)
        admin.press(connection, "key_rotate")
        # then Dixa switches to the new key, and the old one is revoked once it is in use
        wait_until(
            lambda: ApiKey.objects.get(pk=old_key.pk).revoked_at is not None,
            30,
            "the old key to be revoked",
        )
        time.sleep(3)  # traffic goes on after the revocation
    csids = traffic.csids
    assert len(csids) >= 20 * 7
    # and every close is surveyed exactly once
    every_close_surveyed_once(dixa, nps, csids)
    new_key = DixaConnection.objects.get(account=tenant).api_key
    [subscription] = dixa.webhooks_state()["subscriptions"]
    assert re.fullmatch(rf"Bearer {new_key.prefix}\S+", subscription["headers"]["Authorization"])
    assert new_key.last_used_at is not None


def test_replacing_the_subscription_under_traffic_loses_nothing(platform, fakes, tenant):
    dixa, nps = fakes
    admin = Admin(platform.base)
    admin.press(DixaConnection.objects.get(account=tenant), "connect")
    connection = connected(dixa, tenant)
    old_id, old_secret = connection.subscription_id, connection.signing_secret
    # given steady traffic, 20 closes a second
    with Traffic(dixa, first=20_000) as traffic:
        # when the admin replaces the subscription (a new secret) three seconds in
        time.sleep(3)
        admin.press(connection, "subscription_replace")
        # then both deliver during the overlap, and then the old one is deleted
        wait_until(
            lambda: DixaConnection.objects.get(account=tenant).subscription_id != old_id,
            30,
            "the new subscription",
        )
        wait_until(
            lambda: not DixaConnection.objects.get(account=tenant).retiring_subscription_id,
            30,
            "the old subscription to be retired",
        )
        time.sleep(2)
    # and every close is surveyed exactly once, though both subscriptions sent it
    every_close_surveyed_once(dixa, nps, traffic.csids)
    assert InboundEvent.objects.filter(account=tenant).count() == len(traffic.csids)
    [subscription] = dixa.webhooks_state()["subscriptions"]
    connection = DixaConnection.objects.get(account=tenant)
    assert subscription["id"] == connection.subscription_id != old_id
    old_secret.refresh_from_db()
    assert not old_secret.is_active
    assert connection.signing_secret.secret == subscription["secretKey"]
